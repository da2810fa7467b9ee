import { describe, expect, it } from "vitest";
import { engineStream } from "./testing/fake-upstream.js";
import { H100, hello, json, setup } from "./testing/gateway-kit.js";

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
    const { app, post, supervisor, ledger } = setup({
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
    // A ledger that cannot record a request (disk full): nothing would be served, so not ready.
    supervisor.setState("ready");
    Object.assign(ledger, { unwritable: () => "no space left on the ledger's disk" });
    const unrecordable = await app.request("/ready");
    expect(unrecordable.status).toBe(503);
    expect((await json(unrecordable)).reason).toContain("no space left on the ledger's disk");
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
