import { describe, expect, it } from "vitest";
import { engineStream } from "../testing/fake-upstream.js";
import { json, setup } from "../testing/gateway-kit.js";

// /v1/completions, /v1/responses and the watchdog's view of non-streaming calls, in process against a scripted
// engine.

/** vLLM-style text_completion chunks for `tokens`, the usage chunk, [DONE]. */
function completionStream(tokens: string[], promptTokens = 4): string[] {
  const head = { id: "cmpl-e", object: "text_completion", created: 1_700_000_000, model: "test-model" };
  const frames = tokens.map((t, i) => {
    const last = i === tokens.length - 1;
    const choice = {
      index: 0,
      text: t,
      logprobs: null,
      finish_reason: last ? "length" : null,
      stop_reason: null,
    };
    return `data: ${JSON.stringify({ ...head, choices: [choice] })}\n\n`;
  });
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: tokens.length,
    total_tokens: promptTokens + tokens.length,
  };
  frames.push(`data: ${JSON.stringify({ ...head, choices: [], usage })}\n\n`, "data: [DONE]\n\n");
  return frames;
}

/** vLLM-style Responses events: created, deltas, completed (with usage). */
function responsesStream(
  tokens: string[],
  usage = { input_tokens: 9, output_tokens: tokens.length },
): string[] {
  let n = 0;
  const ev = (type: string, fields: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: n++ })}\n\n`;
  const text = tokens.join("");
  const response = (status: string, u: unknown) => ({
    id: "resp_1",
    object: "response",
    status,
    output: status === "completed" ? [{ type: "message", content: [{ type: "output_text", text }] }] : [],
    usage: u,
  });
  return [
    ev("response.created", { response: response("in_progress", null) }),
    ...tokens.map((delta) => ev("response.output_text.delta", { item_id: "msg_1", delta })),
    ev("response.completed", {
      response: response("completed", { ...usage, total_tokens: usage.input_tokens + usage.output_tokens }),
    }),
  ];
}

describe("POST /v1/completions", () => {
  it("answers vLLM's text_completion JSON assembled from the engine's stream, priced by max_tokens", async () => {
    const { post, upstream, ledger } = setup({ reply: () => ({ body: completionStream(["a", "b", "c"]) }) });
    const res = await post("/v1/completions", { model: "test-model", prompt: "Say", max_tokens: 3 });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      id: "cmpl-e",
      object: "text_completion",
      created: 1_700_000_000,
      model: "test-model",
      choices: [
        {
          index: 0,
          text: "abc",
          logprobs: null,
          finish_reason: "length",
          stop_reason: null,
          prompt_logprobs: null,
        },
      ],
      service_tier: null,
      system_fingerprint: null,
      usage: { prompt_tokens: 4, total_tokens: 7, completion_tokens: 3, prompt_tokens_details: null },
      kv_transfer_params: null,
    });
    expect(upstream.requests[0]?.path).toBe("/v1/completions");
    expect(JSON.parse(upstream.requests[0]?.body ?? "")).toMatchObject({ stream: true, max_tokens: 3 });
    expect(res.headers.get("x-llm-price-quote")).toBe("0.00000024");
    expect(res.headers.get("x-llm-price-usage")).toBe("0.00000024");
    expect(ledger.rows()).toMatchObject([{ route: "/v1/completions", completionTokens: 3, status: "ok" }]);
  });

  it("quotes 16 tokens without max_tokens (OpenAI's and vLLM's default) and tells the engine so", async () => {
    const { post, upstream } = setup({ reply: () => ({ body: completionStream(["a"]) }) });
    const res = await post("/v1/completions", { prompt: "Say" });
    expect(res.headers.get("x-llm-price-quote")).toBe("0.00000128");
    expect(JSON.parse(upstream.requests[0]?.body ?? "")).toMatchObject({ max_tokens: 16 });
  });

  it("forwards a prompt-logprobs request (lm-eval's loglikelihood) as it is and relays the engine's JSON", async () => {
    const answer = {
      id: "cmpl-j",
      object: "text_completion",
      choices: [{ index: 0, text: "Say it", logprobs: { tokens: ["Say", " it"] }, finish_reason: "length" }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    };
    const { post, upstream } = setup({
      reply: () => ({ contentType: "application/json", body: [JSON.stringify(answer)] }),
    });
    const body = { prompt: "Say", max_tokens: 1, echo: true, logprobs: 1 };
    const res = await post("/v1/completions", body);
    expect(await json(res)).toEqual(answer);
    expect(JSON.parse(upstream.requests[0]?.body ?? "")).toEqual(body);
    expect(res.headers.get("x-llm-price-usage")).toBe("0.00000008");
  });

  it("relays a stream as the engine wrote it, with the usage chunk only when asked", async () => {
    const { post } = setup({ reply: () => ({ body: completionStream(["a", "b"]) }) });
    const plain = await (await post("/v1/completions", { prompt: "x", max_tokens: 5, stream: true })).text();
    expect(plain).toContain('"text":"a"');
    expect(plain).not.toContain('"usage"');
    expect(plain.endsWith("data: [DONE]\n\n")).toBe(true);
    const withUsage = await (
      await post("/v1/completions", {
        prompt: "x",
        max_tokens: 5,
        stream: true,
        stream_options: { include_usage: true },
      })
    ).text();
    expect(withUsage).toContain('"completion_tokens":2');
  });

  it("cuts an engine that overshoots max_tokens with a text_completion chunk", async () => {
    const { post } = setup({ reply: () => ({ body: completionStream(["a", "b", "c", "d"]) }) });
    const text = await (await post("/v1/completions", { prompt: "x", max_tokens: 2, stream: true })).text();
    expect(text).toContain('"object":"text_completion"');
    expect(text).toContain('"finish_reason":"length"');
    expect(text).not.toContain('"text":"c"');
  });

  it.each([
    [{}, "prompt is required"],
    [{ prompt: ["a", "b"] }, "one prompt on this runner"],
    [{ prompt: "x", max_tokens: 0 }, "max_tokens must be an integer of at least 1"],
    [{ prompt: "x", best_of: 3 }, "best_of must be 1"],
    [{ prompt: "x", temperature: 3 }, "temperature must be a number from 0 to 2"],
  ])("rejects %j with a 400 naming the field", async (body, phrase) => {
    const { post, upstream } = setup();
    const res = await post("/v1/completions", body);
    expect(res.status).toBe(400);
    expect((await json(res)).error.message).toContain(phrase);
    expect(upstream.requests).toHaveLength(0);
  });
});

describe("POST /v1/responses", () => {
  it("answers a non-streaming call with the response object of the engine's completed event", async () => {
    const { post, upstream, ledger, metrics } = setup({
      reply: () => ({ body: responsesStream(["Hi", " you"]) }),
    });
    const res = await post("/v1/responses", { input: "hello", max_output_tokens: 50 });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ id: "resp_1", object: "response", status: "completed" });
    expect(body.output[0].content[0].text).toBe("Hi you");
    expect(body.usage).toMatchObject({ input_tokens: 9, output_tokens: 2 });
    expect(upstream.requests[0]?.path).toBe("/v1/responses");
    expect(JSON.parse(upstream.requests[0]?.body ?? "")).toEqual({
      input: "hello",
      max_output_tokens: 50,
      stream: true,
    });
    expect(res.headers.get("x-llm-price-quote")).toBe("0.000004");
    expect(res.headers.get("x-llm-price-usage")).toBe("0.00000016");
    expect(ledger.rows()).toMatchObject([{ route: "/v1/responses", promptTokens: 9, completionTokens: 2 }]);
    const text = await metrics.render();
    expect(text).toMatch(/llm_runner_requests_total\{[^}]*route="\/v1\/responses"[^}]*\} 1/);
    expect(text).toMatch(/llm_runner_completion_tokens_total\{[^}]*route="\/v1\/responses"[^}]*\} 2/);
  });

  it("relays the event stream with its event names and no [DONE], and bills the completed event's usage", async () => {
    const { post, ledger } = setup({ reply: () => ({ body: responsesStream(["a", "b", "c"]) }) });
    const res = await post("/v1/responses", { input: "x", stream: true, max_output_tokens: 10 });
    const text = await res.text();
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    expect(text.startsWith("event: response.created\ndata: {")).toBe(true);
    expect(text.trimEnd().split("\n\n").at(-1)).toMatch(/^event: response.completed\ndata: /);
    expect(text).not.toContain("[DONE]");
    expect(ledger.rows()).toMatchObject([{ status: "ok", completionTokens: 3, promptTokens: 9 }]);
  });

  it("bills at most max_output_tokens when the engine reports more", async () => {
    const { post, ledger } = setup({
      reply: () => ({ body: responsesStream(["a"], { input_tokens: 1, output_tokens: 99 }) }),
    });
    await post("/v1/responses", { input: "x", max_output_tokens: 5 });
    expect(ledger.rows()).toMatchObject([{ completionTokens: 5 }]);
  });

  it("ends a stream whose engine dies with OpenAI's error event, and a JSON call with a 502", async () => {
    const broken = () => ({ body: [...responsesStream(["a"]).slice(0, 2), { fail: "socket hang up" }] });
    const { post, ledger } = setup({ reply: broken });
    const text = await (await post("/v1/responses", { input: "x", stream: true })).text();
    const last = text.trimEnd().split("\n\n").at(-1) ?? "";
    expect(last.startsWith("event: error\ndata: ")).toBe(true);
    expect(JSON.parse(last.split("data: ")[1] ?? "")).toMatchObject({ type: "error", code: "engine_error" });
    const res = await post("/v1/responses", { input: "x" });
    expect(res.status).toBe(502);
    expect(ledger.rows().map((r) => r.status)).toEqual(["engine_error", "engine_error"]);
  });

  it("turns an engine error outside the event protocol into OpenAI's error event", async () => {
    const errorEvent = `data: ${JSON.stringify({ error: { message: "EngineCore died" } })}\n\n`;
    const { post, ledger } = setup({
      reply: () => ({ body: [responsesStream(["a"])[0] as string, errorEvent] }),
    });
    const text = await (await post("/v1/responses", { input: "x", stream: true })).text();
    const last = text.trimEnd().split("\n\n").at(-1) ?? "";
    expect(last.startsWith("event: error\ndata: ")).toBe(true);
    expect(last).toContain("EngineCore died");
    expect(ledger.rows()).toMatchObject([{ status: "engine_error", error: "EngineCore died" }]);
  });

  it.each([
    [{}, "input is required"],
    [{ input: [] }, "input is required"],
    [{ input: "x", background: true }, "background mode is not served"],
    [{ input: "x", max_output_tokens: -1 }, "max_output_tokens must be an integer"],
    [{ input: "x", stream: "yes" }, "stream must be true or false"],
  ])("rejects %j with a 400 naming the field", async (body, phrase) => {
    const { post, upstream } = setup();
    const res = await post("/v1/responses", body);
    expect(res.status).toBe(400);
    expect((await json(res)).error.message).toContain(phrase);
    expect(upstream.requests).toHaveLength(0);
  });
});

describe("the hang watchdog's view of a non-streaming request", () => {
  it("reports progress for every engine read, not once at the end", async () => {
    const tokens = Array.from({ length: 20 }, (_, i) => `t${i}`);
    const { post, supervisor } = setup({
      reply: () => ({ body: engineStream(tokens).flatMap((f) => [f, { waitMs: 1 }]) }),
    });
    const res = await post("/v1/chat/completions", { messages: [{ role: "user", content: "x" }] });
    expect((await json(res)).choices[0].message.content).toBe(tokens.join(""));
    expect(supervisor.progressCalls).toBeGreaterThanOrEqual(tokens.length);
  });
});
