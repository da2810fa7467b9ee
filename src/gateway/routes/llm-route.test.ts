import { describe, expect, it } from "vitest";
import { engineStream } from "../testing/fake-upstream.js";
import { frames, hello, json, setup } from "../testing/gateway-kit.js";

describe("POST /llm", () => {
  it("sends the engine a stream request with the /llm defaults and answers the contract's JSON", async () => {
    const { post, upstream, ledger } = setup();
    const res = await post("/llm", hello);
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({
      model: "test-model",
      usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 },
      choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: "Hello world" } }],
    });
    expect(body.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(typeof body.created).toBe("number");
    const sent = JSON.parse(upstream.requests[0]?.body ?? "{}");
    expect(sent).toEqual({
      model: "test-model",
      messages: hello.messages,
      temperature: 0.7,
      top_p: 1,
      top_k: -1,
      max_tokens: 256,
      stream: true,
      stream_options: { include_usage: true, continuous_usage_stats: true },
    });
    expect(upstream.requests[0]?.path).toBe("/v1/chat/completions");
    expect(res.headers.get("x-llm-price-quote")).toBe("0.00002048");
    expect(res.headers.get("x-llm-price-usage")).toBe("0.00000016");
    expect(res.headers.get("x-llm-currency")).toBe("USD");
    expect(res.headers.get("x-request-id")).toBe(body.id.slice("chatcmpl-".length));
    expect(ledger.rows()).toMatchObject([
      { status: "ok", completionTokens: 2, promptTokens: 7, maxTokens: 256 },
    ]);
  });

  it("answers /llm/ too", async () => {
    const { post } = setup();
    expect((await post("/llm/", hello)).status).toBe(200);
  });

  it("streams one chunk per engine chunk, then a final chunk with the finish_reason and usage, then [DONE]", async () => {
    const { post } = setup({ reply: () => ({ body: engineStream(["a", "b"], { finishReason: "length" }) }) });
    const res = await post("/llm", { ...hello, stream: true, max_tokens: 2 });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    expect(res.headers.get("x-llm-price-quote")).toBe("0.00000016");
    expect(res.headers.get("x-llm-price-usage")).toBeNull();
    const all = await frames(res);
    const id = res.headers.get("x-request-id");
    const parsed = all.slice(0, -1).map((f) => JSON.parse(f.slice(6)));
    const created = parsed[0].created;
    const chunk = (content: string, finish: string, completion: number, prompt = 0) =>
      `data: ${JSON.stringify({
        id: `chatcmpl-${id}`,
        model: "test-model",
        created,
        choices: [{ index: 0, delta: { role: "assistant", content }, finish_reason: finish }],
        usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
      })}\n\n`;
    expect(all).toEqual([
      chunk("", "", 0),
      chunk("a", "", 1),
      chunk("b", "", 2),
      chunk("", "length", 2, 7),
      "data: [DONE]\n\n",
    ]);
  });

  it("rejects schema errors with 400 {detail:{msg}} naming every bad field (go-livepeer reads only 400/401/500)", async () => {
    const { post, upstream, ledger } = setup();
    const res = await post("/llm", {
      messages: [{ role: "robot", content: "x" }],
      temperature: 3,
      top_p: -0.1,
      max_tokens: 0,
      top_k: 0,
    });
    expect(res.status).toBe(400);
    const msg: string = (await json(res)).detail.msg;
    expect(msg).toMatch(/^Invalid \/llm request: /);
    for (const part of [
      "messages.0.role: role must be one of system, user, assistant",
      "temperature: temperature must be at most 2",
      "top_p: top_p must be at least 0",
      "max_tokens: max_tokens must be at least 1",
      "top_k: top_k must be -1 (off) or at least 1",
    ]) {
      expect(msg).toContain(part);
    }
    expect(upstream.requests).toHaveLength(0);
    expect(ledger.rows()).toHaveLength(0);
  });

  it("reports missing messages as required, in detail.msg", async () => {
    const { post } = setup();
    const res = await post("/llm", {});
    expect(res.status).toBe(400);
    expect(await json(res)).toEqual({
      detail: { msg: "Invalid /llm request: messages: messages is required" },
    });
  });

  it("answers 400 for a model it does not serve, and accepts the served one", async () => {
    const { post } = setup();
    const res = await post("/llm", { ...hello, model: "other/model" });
    expect(res.status).toBe(400);
    expect((await json(res)).detail.msg).toContain("this runner serves 'test-model'");
    expect((await post("/llm", { ...hello, model: "test-model" })).status).toBe(200);
  });

  it("answers 400 with detail.msg for a body that is not JSON", async () => {
    const { post } = setup();
    const res = await post("/llm", "{nope");
    expect(res.status).toBe(400);
    expect((await json(res)).detail.msg).toMatch(/^The request body is not valid JSON/);
  });

  it("relays the engine's 400 (context too long) as detail.msg and records a rejected row", async () => {
    const message = "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.";
    const { post, ledger } = setup({
      reply: () => ({
        status: 400,
        contentType: "application/json",
        body: [JSON.stringify({ error: { message, type: "BadRequestError", param: null, code: 400 } })],
      }),
    });
    const res = await post("/llm", hello);
    expect(res.status).toBe(400);
    expect((await json(res)).detail.msg).toContain(message);
    expect(ledger.rows()).toMatchObject([{ status: "rejected", httpStatus: 400 }]);
  });

  it("answers 500 on /llm (502 on /v1) when the engine cannot be reached", async () => {
    const { post, ledger, supervisor } = setup({ reply: () => new Error("connect ECONNREFUSED") });
    const res = await post("/llm", hello);
    expect(res.status).toBe(500);
    expect((await json(res)).detail.msg).toContain("ECONNREFUSED");
    const v1 = await post("/v1/chat/completions", { messages: [{ role: "user", content: "x" }] });
    expect(v1.status).toBe(502);
    expect(ledger.rows()).toMatchObject([
      { status: "engine_error", httpStatus: 500 },
      { status: "engine_error", httpStatus: 502 },
    ]);
    expect(supervisor.inFlight).toBe(0);
  });

  it("ends a stream whose engine dies with a finish_reason 'error' chunk that keeps choices[0], then [DONE]", async () => {
    const stream = engineStream(["one", "two", "three"]);
    const { post, supervisor, ledger } = setup({
      reply: () => ({ body: [stream[0] as string, stream[1] as string, { hang: true }] }),
    });
    const res = await post("/llm", { ...hello, stream: true });
    const reader = res.body?.getReader();
    if (!reader) throw new Error("no body");
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes('"content":"one"')) text += decoder.decode((await reader.read()).value);
    supervisor.killInFlight("engine process exited with code 137");
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    const all = text.split("\n\n").filter(Boolean);
    expect(all.at(-1)).toBe("data: [DONE]");
    const last = JSON.parse((all.at(-2) as string).slice(6));
    expect(last.choices).toEqual([
      { index: 0, delta: { role: "assistant", content: "" }, finish_reason: "error" },
    ]);
    expect(last.error.message).toContain("engine process exited with code 137");
    expect(ledger.rows()).toMatchObject([{ status: "engine_error", httpStatus: 200, completionTokens: 1 }]);
    expect(supervisor.inFlight).toBe(0);
  });

  it("never sends more than max_tokens: an overshooting engine is cut with finish_reason 'length'", async () => {
    const { post, upstream, ledger } = setup({
      reply: () => ({ body: [...engineStream(["a", "b", "c", "d"]).slice(0, 4), { hang: true }] }),
    });
    const res = await post("/llm", { ...hello, max_tokens: 2 });
    const body = await json(res);
    expect(body.choices[0]).toMatchObject({ finish_reason: "length", message: { content: "ab" } });
    expect(body.usage.completion_tokens).toBe(2);
    expect(upstream.aborted).toBe(1);
    expect(ledger.rows()).toMatchObject([{ status: "ok", completionTokens: 2 }]);
  });

  it("aborts the upstream request at once when the client goes away mid-stream", async () => {
    const { post, upstream, ledger, supervisor } = setup({
      reply: () => ({ body: [...engineStream(["a"]).slice(0, 2), { hang: true }] }),
    });
    const client = new AbortController();
    const res = await post("/llm", { ...hello, stream: true }, {}, client.signal);
    const reader = res.body?.getReader();
    await reader?.read();
    await reader?.cancel();
    await new Promise((r) => setTimeout(r, 20));
    expect(upstream.aborted).toBe(1);
    expect(ledger.rows()).toMatchObject([{ status: "client_abort" }]);
    expect(supervisor.inFlight).toBe(0);
  });
});
