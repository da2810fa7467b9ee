import { describe, expect, it } from "vitest";
import { engineStream, type FakeReply, FakeUpstream } from "../../test/helpers/fake-upstream.js";
import { gatewayTestConfig, StaticSupervisor } from "../../test/helpers/static-supervisor.js";
import type { Config } from "../config/types.js";
import type { GpuInfo } from "../gpu/types.js";
import { silentLogger } from "../log/logger.js";
import { createGatewayMetrics } from "../metrics/gateway-metrics.js";
import { SqliteLedger } from "../pricing/ledger.js";
import { createGateway } from "./create-gateway.js";
import type { UpstreamRequest } from "./exchange/upstream-client.js";

const H100: GpuInfo = {
  index: 0,
  uuid: "GPU-f9bb3aac-f5c0-319c-d84c-9f24c1c67aee",
  name: "NVIDIA H100 80GB HBM3",
  memoryTotalMiB: 81559,
  memoryUsedMiB: 0,
  memoryFreeMiB: 81079,
  utilizationGpu: 0,
  utilizationMemory: null,
  temperatureC: 39,
  powerW: 126.4,
  driverVersion: "580.159.04",
  computeCap: { major: 9, minor: 0 },
};

function setup(
  options: {
    config?: Partial<Config>;
    reply?: (r: UpstreamRequest) => FakeReply | Error;
    gpus?: GpuInfo[] | Error;
  } = {},
) {
  const config = gatewayTestConfig(options.config);
  const supervisor = new StaticSupervisor({
    baseUrl: "http://127.0.0.1:1",
    apiKey: "engine-key",
    generation: 1,
  });
  const upstream = new FakeUpstream(options.reply ?? (() => ({ body: engineStream(["Hello", " world"]) })));
  const ledger = SqliteLedger.open(":memory:");
  const metrics = createGatewayMetrics();
  const gpus = options.gpus ?? [];
  const app = createGateway({
    config,
    supervisor,
    ledger,
    metrics,
    upstream,
    logger: silentLogger(),
    gpus: { list: async () => (gpus instanceof Error ? Promise.reject(gpus) : gpus) },
  });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) =>
    app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
      ...(signal ? { signal } : {}),
    });
  return { app, config, supervisor, upstream, ledger, metrics, post };
}

// biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary JSON shapes
async function json(res: Response): Promise<any> {
  return res.json();
}

const hello = { messages: [{ role: "user", content: "hi" }] };

async function frames(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((f) => f !== "")
    .map((f) => `${f}\n\n`);
}

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
      { authorization: "Bearer secret", "x-evil": "1" },
    );
    const sent = upstream.requests[0];
    expect(sent?.endpoint.apiKey).toBe("engine-key");
    expect(Object.keys(sent ?? {}).sort()).toEqual([
      "body",
      "endpoint",
      "method",
      "path",
      "requestId",
      "signal",
    ]);
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

describe("admission", () => {
  it("requires the bearer token on /llm and /v1/*, with WWW-Authenticate, and leaves /health open", async () => {
    const { post, app } = setup({ config: { authToken: "s3cret" } });
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: "Bearer wrong" },
      { authorization: "Basic s3cret" },
    ];
    for (const headers of attempts) {
      const res = await post("/llm", hello, headers);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe("Bearer");
      expect((await json(res)).detail.msg).toMatch(/bearer token/);
    }
    const v1 = await app.request("/v1/models");
    expect(v1.status).toBe(401);
    expect((await json(v1)).error.type).toBe("AuthenticationError");
    expect((await post("/llm", hello, { authorization: "Bearer s3cret" })).status).toBe(200);
    expect((await app.request("/health")).status).toBe(200);
  });

  it("answers 500 on /llm, 503 on /v1, with Retry-After and the reason while the engine is not ready", async () => {
    const { post, supervisor, ledger } = setup();
    supervisor.progress = 0.42;
    supervisor.setState("loading");
    const res = await post("/llm", hello);
    expect(res.status).toBe(500);
    expect(res.headers.get("retry-after")).toBe("5");
    expect((await json(res)).detail.msg).toBe("The model is loading (LOADING, 42%); retry shortly.");
    supervisor.setState("failed", {
      reason: "cuda_oom",
      message: "CUDA out of memory",
      hint: "Lower GPU_MEMORY_UTILIZATION.",
      logTail: [],
      at: new Date().toISOString(),
    });
    const failed = await post("/v1/chat/completions", { messages: [{ role: "user", content: "x" }] });
    expect(failed.status).toBe(503);
    expect((await json(failed)).error.message).toContain("cuda_oom: CUDA out of memory");
    expect(ledger.rows().map((r) => r.status)).toEqual(["rejected", "rejected"]);
  });

  it("admits at most MAX_NUM_SEQS + QUEUE_SIZE requests at once, then answers 500 (/llm) or 429 (/v1) with Retry-After", async () => {
    const { post, supervisor } = setup({
      config: { maxNumSeqs: 1, queueSize: 1 },
      reply: () => ({ body: [engineStream(["a"])[0] as string, { hang: true }] }),
    });
    const open = [
      await post("/llm", { ...hello, stream: true }),
      await post("/llm", { ...hello, stream: true }),
    ];
    const res = await post("/llm", hello);
    expect(res.status).toBe(500);
    expect(res.headers.get("retry-after")).toBe("1");
    expect((await json(res)).detail.msg).toContain("at capacity: 2 requests admitted");
    const v1 = await post("/v1/chat/completions", { messages: [{ role: "user", content: "x" }] });
    expect(v1.status).toBe(429);
    for (const r of open) await r.body?.cancel();
    expect(supervisor.inFlight).toBe(0);
    expect((await post("/llm", { ...hello, stream: true })).status).toBe(200);
  });

  it("answers 400 on /llm (413 on /v1) for a body over MAX_BODY_BYTES", async () => {
    const { post } = setup({ config: { maxBodyBytes: 100 } });
    const res = await post("/llm", { messages: [{ role: "user", content: "x".repeat(200) }] });
    expect(res.status).toBe(400);
    const v1 = await post("/v1/chat/completions", { messages: [{ role: "user", content: "x".repeat(200) }] });
    expect(v1.status).toBe(413);
    expect((await json(res)).detail.msg).toContain("MAX_BODY_BYTES (100 bytes)");
  });

  it("calls ticket.end() exactly once per request, whatever the ending", async () => {
    const { post, supervisor } = setup();
    await json(await post("/llm", hello));
    await (await post("/llm", { ...hello, stream: true })).text();
    await (
      await post("/v1/chat/completions", { messages: [{ role: "user", content: "x" }], stream: true })
    ).text();
    expect(supervisor.issued).toBe(3);
    expect(supervisor.ended).toBe(3);
    expect(supervisor.progressCalls).toBeGreaterThan(3);
  });
});

describe("GET routes", () => {
  it("/health maps supervisor states to LOADING, IDLE, OK and ERROR", async () => {
    const { app, supervisor } = setup();
    const status = async () => (await json(await app.request("/health"))).status;
    expect(await status()).toBe("IDLE");
    const ticket = supervisor.admit();
    expect(await status()).toBe("OK");
    ticket?.end();
    for (const [state, expected] of [
      ["starting", "LOADING"],
      ["loading", "LOADING"],
      ["restarting", "LOADING"],
      ["draining", "OK"],
      ["failed", "ERROR"],
      ["stopped", "ERROR"],
    ] as const) {
      supervisor.setState(state);
      expect(await status()).toBe(expected);
    }
  });

  it("/hardware/info and /hardware/stats key GPUs by index with memory in bytes; {} without GPUs", async () => {
    const { app } = setup({ gpus: [H100] });
    expect(await json(await app.request("/hardware/info"))).toEqual({
      pipeline: "llm",
      model_id: "test-model",
      gpu_info: {
        "0": {
          id: H100.uuid,
          name: H100.name,
          memory_total: 81559 * 1048576,
          memory_free: 81079 * 1048576,
          major: 9,
          minor: 0,
        },
      },
    });
    expect((await json(await app.request("/hardware/stats"))).gpu_stats["0"]).toMatchObject({
      utilization_compute: 0,
      utilization_memory: 0,
    });
    const none = setup();
    expect((await json(await none.app.request("/hardware/stats"))).gpu_stats).toEqual({});
    const broken = setup({ gpus: new Error("nvidia-smi: NVML driver mismatch") });
    const res = await broken.app.request("/hardware/info");
    expect(res.status).toBe(500);
    expect((await json(res)).detail.msg).toContain("NVML driver mismatch");
  });

  it("/version reports RUNNER_VERSION (the AI-runner contract version), not llm-runner's own", async () => {
    const { app } = setup({ config: { runnerVersion: "0.15.0-llm.1" } });
    const body = await json(await app.request("/version"));
    expect(body).toEqual({ pipeline: "llm", model_id: "test-model", version: "0.15.0-llm.1" });
  });

  it("/ready is 200 only while a request would be served now, 503 with the reason otherwise", async () => {
    const { app, post, supervisor } = setup({
      config: { maxNumSeqs: 1, queueSize: 0 },
      reply: () => ({ body: [engineStream(["a"])[0] as string, { hang: true }] }),
    });
    const ready = await app.request("/ready");
    expect(ready.status).toBe(200);
    expect(await json(ready)).toEqual({ ready: true, status: "IDLE", state: "ready" });
    const open = await post("/llm", { ...hello, stream: true });
    const full = await app.request("/ready");
    expect(full.status).toBe(503);
    expect((await json(full)).reason).toContain("at capacity: 1 requests admitted");
    await open.body?.cancel();
    supervisor.setState("loading");
    const loading = await app.request("/ready");
    expect(loading.status).toBe(503);
    expect(loading.headers.get("retry-after")).toBe("5");
    expect(await json(loading)).toMatchObject({ ready: false, status: "LOADING", state: "loading" });
    expect((await app.request("/health")).status).toBe(200);
  });

  it("/metrics renders our series, the supervisor gauges and the engine's vllm:* lines only", async () => {
    const engineMetrics =
      "# HELP vllm:num_requests_running x\nvllm:num_requests_running 3\npython_gc_objects 5\n";
    const { app, post } = setup({
      reply: (r) =>
        r.path === "/metrics"
          ? { contentType: "text/plain", body: [engineMetrics] }
          : { body: engineStream(["a", "b"]) },
    });
    await json(await post("/llm", hello));
    const text = await (await app.request("/metrics")).text();
    expect(text).toContain('llm_runner_requests_total{route="/llm",outcome="ok"} 1');
    expect(text).toContain('llm_runner_http_responses_total{route="/llm",code="200"} 1');
    expect(text).toContain('llm_runner_completion_tokens_total{route="/llm"} 2');
    expect(text).toContain('llm_runner_quoted_revenue_total{route="/llm",currency="USD"} 0.00002048');
    expect(text).toContain('llm_runner_supervisor_state{state="ready"} 1');
    expect(text).toContain("llm_runner_time_to_first_token_seconds_count");
    expect(text).toContain("vllm:num_requests_running 3\n");
    expect(text).not.toContain("python_gc_objects");
  });

  it("answers unknown paths with 404 in the route family's shape", async () => {
    const { app } = setup();
    expect(await json(await app.request("/nope"))).toEqual({ detail: { msg: "No route for GET /nope." } });
    expect((await json(await app.request("/v1/nope"))).error.code).toBe(404);
  });
});
