import { describe, expect, it } from "vitest";
import { engineStream } from "../testing/fake-upstream.js";
import { frames, json, setup } from "../testing/gateway-kit.js";

describe("POST /v1/chat/completions", () => {
  const v1 = { model: "test-model", messages: [{ role: "user", content: "hi" }] };

  it("streams from the engine for a non-streaming client and answers vLLM's JSON, priced by max_tokens", async () => {
    const { post, upstream, ledger } = setup({
      reply: () => ({ body: engineStream(["yo", " there"], { id: "chatcmpl-x", promptTokens: 3 }) }),
    });
    const res = await post("/v1/chat/completions", { ...v1, max_tokens: 100, logit_bias: { "1": 2 } });
    expect(await json(res)).toEqual({
      id: "chatcmpl-x",
      object: "chat.completion",
      created: 1_700_000_000,
      model: "test-model",
      choices: [
        {
          index: 0,
          message: {
            role: "assistant",
            content: "yo there",
            refusal: null,
            annotations: null,
            audio: null,
            function_call: null,
            tool_calls: [],
            reasoning_content: null,
          },
          logprobs: null,
          finish_reason: "stop",
          stop_reason: null,
        },
      ],
      service_tier: null,
      system_fingerprint: null,
      usage: { prompt_tokens: 3, total_tokens: 5, completion_tokens: 2, prompt_tokens_details: null },
      prompt_logprobs: null,
      kv_transfer_params: null,
    });
    // The client's body, asked as a stream with the usage chunk: the watchdog sees each token as it comes.
    expect(JSON.parse(upstream.requests[0]?.body ?? "")).toEqual({
      ...v1,
      max_tokens: 100,
      logit_bias: { "1": 2 },
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.headers.get("x-llm-price-quote")).toBe("0.000008");
    expect(res.headers.get("x-llm-price-usage")).toBe("0.00000016");
    expect(ledger.rows()).toMatchObject([
      { route: "/v1/chat/completions", status: "ok", completionTokens: 2 },
    ]);
    const noMax = await post("/v1/chat/completions", v1);
    expect(noMax.headers.get("x-llm-price-quote")).toBe("0.00065536");
  });

  it("cuts a non-streamed answer at max_tokens when the engine overshoots, billing max_tokens", async () => {
    const { post } = setup({ reply: () => ({ body: engineStream(["a", "b", "c", "d"]) }) });
    const body = await json(await post("/v1/chat/completions", { ...v1, max_tokens: 2 }));
    expect(body.choices[0]).toMatchObject({ message: { content: "ab" }, finish_reason: "length" });
    expect(body.usage).toMatchObject({ completion_tokens: 2 });
  });

  it("answers a non-streamed request whose engine stream fails with a 502 naming the cause once", async () => {
    const { post, ledger } = setup({
      reply: () => ({
        body: [
          engineStream(["a"])[0] as string,
          `data: ${JSON.stringify({ error: { message: "Simulated engine error (--sim-error-rate)." } })}\n\n`,
          "data: [DONE]\n\n",
        ],
      }),
    });
    const res = await post("/v1/chat/completions", v1);
    expect(res.status).toBe(502);
    const message: string = (await json(res)).error.message;
    expect(message).toContain("(--sim-error-rate).");
    expect(message).not.toContain("..");
    expect(ledger.rows()).toMatchObject([{ status: "engine_error" }]);
  });

  it("builds upstream headers from scratch: the client's auth and other headers never reach the engine", async () => {
    const { post, upstream } = setup({ config: { authToken: "secret" } });
    await post(
      "/v1/chat/completions",
      { ...v1, stream: true },
      {
        authorization: "Bearer secret",
        "x-evil": "1",
        traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      },
    );
    const sent = upstream.requests[0];
    expect(sent?.endpoint.apiKey).toBe("engine-key");
    expect(Object.keys(sent ?? {}).sort()).toEqual([
      "body",
      "endpoint",
      "headers",
      "method",
      "path",
      "requestId",
      "signal",
    ]);
    // Our own headers only: with tracing off, none (the client's traceparent is not passed on).
    expect(sent?.headers).toEqual({});
  });

  it("asks the engine for usage on streams and hides the usage chunk from a client that did not ask", async () => {
    const engine = engineStream(["x", "y"]);
    const { post, upstream, ledger } = setup({ reply: () => ({ body: engine }) });
    const res = await post("/v1/chat/completions", { ...v1, stream: true });
    expect(JSON.parse(upstream.requests[0]?.body ?? "").stream_options).toEqual({ include_usage: true });
    expect(await frames(res)).toEqual([engine[0], engine[1], engine[2], "data: [DONE]\n\n"]);
    expect(ledger.rows()).toMatchObject([{ status: "ok", promptTokens: 7, completionTokens: 2 }]);
  });

  it("passes the usage chunk on when the client asked for it", async () => {
    const engine = engineStream(["x"]);
    const { post } = setup({ reply: () => ({ body: engine }) });
    const res = await post("/v1/chat/completions", {
      ...v1,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(await frames(res)).toEqual(engine);
  });

  it("ends a failed stream with an OpenAI error event, then [DONE]", async () => {
    const engine = engineStream(["x", "y"]);
    const { post } = setup({ reply: () => ({ body: [engine[0] as string, { fail: "socket hang up" }] }) });
    const all = await frames(await post("/v1/chat/completions", { ...v1, stream: true }));
    expect(all).toEqual([
      engine[0],
      `data: ${JSON.stringify({
        error: {
          message: "the connection to the engine failed: socket hang up",
          type: "EngineError",
          param: null,
          code: 502,
        },
      })}\n\n`,
      "data: [DONE]\n\n",
    ]);
  });

  it("answers bad requests in the OpenAI error shape", async () => {
    const { post } = setup();
    const cases: Array<[unknown, string | null]> = [
      ["not json", null],
      [{ messages: [] }, "messages"],
      [{ ...v1, max_tokens: 0 }, "max_tokens"],
      [{ ...v1, max_completion_tokens: 1.5 }, "max_completion_tokens"],
      [{ ...v1, n: 2 }, "n"],
    ];
    for (const [body, param] of cases) {
      const res = await post("/v1/chat/completions", body);
      expect(res.status).toBe(400);
      const answer = await json(res);
      expect(answer.error).toMatchObject({ type: "BadRequestError", param, code: 400 });
      expect(answer.error.message.length).toBeGreaterThan(10);
    }
  });

  it("relays the engine's own 4xx body unchanged", async () => {
    const err = {
      error: { message: "The model `x` does not exist.", type: "NotFoundError", param: "model", code: 404 },
    };
    const { post } = setup({ reply: () => ({ status: 404, body: [JSON.stringify(err)] }) });
    const res = await post("/v1/chat/completions", { ...v1, model: "x" });
    expect(res.status).toBe(404);
    expect(await json(res)).toEqual(err);
  });
});
