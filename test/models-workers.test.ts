// Several models (LLM_RUNNER_MODELS_FILE) served by HTTP workers (GATEWAY_WORKERS=2) through the built CLI,
// simulator engines, process driver: three models in one swap group of one awake. Every worker serves every model
// (each request on a new connection, so the primary deals them out to both workers in turn), a request for a
// sleeping model wakes it through the primary's per-model admission (the awake one goes to sleep), a wake past
// MODEL_WAKE_TIMEOUT is the in-process 503 + Retry-After, an unknown model is a 404, /v1/models lists every model,
// /metrics keeps the per-model series, and a worker killed -9 is replaced with every model still served.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, waitFor } from "./helpers/cli.js";
import { authHeaders, type ClientResult, call, metricsText, stopAllRunners } from "./helpers/load.js";
import {
  answerOf,
  labelled,
  type ModelFile,
  type ModelsRunner,
  startModelsRunner,
} from "./helpers/models.js";
import { replacedWorkers, workerPids } from "./helpers/workers.js";

const MODELS: ModelFile = {
  groups: { g: { gpus: "0", awake: 1 } },
  models: [
    { id: "alpha", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45" } },
    { id: "beta", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45" } },
    // A slow wake: longer than MODEL_WAKE_TIMEOUT.
    { id: "gamma", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45", SIM_WAKE_SECONDS: "3" } },
  ],
};

let runner: ModelsRunner;

beforeAll(async () => {
  assertBuilt();
  runner = await startModelsRunner(
    MODELS,
    { GATEWAY_WORKERS: "2", MODEL_IDLE_SLEEP: "0", MODEL_WAKE_TIMEOUT: "1.5" },
    { alpha: "awake", beta: "asleep", gamma: "asleep" },
  );
}, 90_000);
afterAll(async () => {
  await stopAllRunners();
});

/** A chat request for `model` on a connection of its own (closed after it): the next one goes to the other worker. */
function askFresh(model: string, options: { stream?: boolean; route?: "/llm" } = {}): Promise<ClientResult> {
  const body = JSON.stringify({
    model,
    messages: [{ role: "user", content: "w0 w1 w2 w3" }],
    max_tokens: 8,
    stream: options.stream ?? false,
  });
  return call(runner.url, options.route ?? "/v1/chat/completions", body, { timeoutMs: 30_000, reset: true });
}

describe("three models in a swap group of one awake, GATEWAY_WORKERS=2", () => {
  it("runs two workers, each listing every model on /v1/models", async () => {
    expect(workerPids(runner.pid)).toHaveLength(2);
    for (let i = 0; i < 2; i++) {
      const list = await call(runner.url, "/v1/models", "", { method: "GET", reset: true });
      expect(list.status).toBe(200);
      const ids = (JSON.parse(list.text) as { data: Array<{ id: string }> }).data.map((m) => m.id);
      expect(ids).toEqual(["alpha", "beta", "gamma"]);
    }
  });

  it("refuses a model not served here with vLLM's 404 on both workers, waking nothing", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await askFresh("nope");
      expect(r.status).toBe(404);
      expect(r.text).toContain("The model `nope` does not exist.");
    }
    expect(runner.states()).toEqual({ alpha: "awake", beta: "asleep", gamma: "asleep" });
  });

  it("serves the awake model through both workers; a request for a sleeping one wakes it, the other sleeps", async () => {
    for (let i = 0; i < 4; i++) {
      const r = await askFresh("alpha");
      expect(r.status).toBe(200);
      expect(answerOf(r).model).toBe("alpha");
    }
    const woke = await askFresh("beta");
    expect(woke.status).toBe(200);
    expect(answerOf(woke).model).toBe("beta");
    // The eviction's sleep (0.2 s) and the wake (0.3 s) are in that request's time.
    expect(woke.ms).toBeGreaterThanOrEqual(450);
    expect(runner.states()).toEqual({ alpha: "asleep", beta: "awake", gamma: "asleep" });
    for (let i = 0; i < 3; i++) {
      const r = await askFresh("beta", { stream: i === 0, ...(i === 1 ? { route: "/llm" as const } : {}) });
      expect(r.status).toBe(200);
      expect(r.complete).toBe(true);
    }
    // And back: alpha's request (on either worker) wakes alpha, beta goes to sleep.
    const back = await askFresh("alpha");
    expect(back.status).toBe(200);
    expect(runner.states()).toEqual({ alpha: "awake", beta: "asleep", gamma: "asleep" });
  });

  it("alternating demand for two models over both workers: every request served", async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => askFresh(i % 2 === 0 ? "alpha" : "beta")),
    );
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(results.map((r) => answerOf(r).model)).toEqual(
      Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? "alpha" : "beta")),
    );
  });

  it("a wake slower than MODEL_WAKE_TIMEOUT is the in-process 503 with Retry-After; the wake goes on", async () => {
    const r = await fetch(`${runner.url}/v1/chat/completions`, {
      method: "POST",
      headers: authHeaders(),
      body: JSON.stringify({ model: "gamma", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
    });
    expect(r.status).toBe(503);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const message = ((await r.json()) as { error: { message: string } }).error.message;
    expect(message).toContain("The model gamma is waking up");
    expect(message).toContain("MODEL_WAKE_TIMEOUT");
    await runner.waitStates({ gamma: "awake" }, 10_000);
    const next = await askFresh("gamma");
    expect(next.status).toBe(200);
    expect(answerOf(next).model).toBe("gamma");
  });

  it("/metrics (merged over the workers) keeps the per-model series from the runner's process", async () => {
    // Both workers answer a scrape the same way.
    for (let i = 0; i < 2; i++) {
      const text = await metricsText(runner.url);
      expect(labelled(text, "llm_runner_model_state", { model: "gamma", state: "awake" })).toBe(1);
      expect(labelled(text, "llm_runner_model_state", { model: "alpha", state: "asleep" })).toBe(1);
      expect(labelled(text, "llm_runner_model_wakes_total", { model: "beta" })).toBeGreaterThanOrEqual(2);
      expect(labelled(text, "llm_runner_model_sleeps_total", { model: "alpha" })).toBeGreaterThanOrEqual(2);
      expect(labelled(text, "llm_runner_replica_state", { model: "beta" })).not.toBeNull();
    }
  });

  it("a worker killed -9 is replaced, and every model is served through both workers again", {
    timeout: 60_000,
  }, async () => {
    const [victim, survivor] = workerPids(runner.pid) as [number, number];
    process.kill(victim, "SIGKILL");
    const replaced = await replacedWorkers(runner.pid, victim);
    expect(replaced).toContain(survivor);
    for (const model of ["alpha", "beta", "alpha", "beta"]) {
      const r = await askFresh(model);
      expect(r.status).toBe(200);
      expect(answerOf(r).model).toBe(model);
    }
    await waitFor(
      async () =>
        labelled(await metricsText(runner.url), "llm_runner_model_active_requests", { model: "alpha" }) ===
          0 || null,
      10_000,
      "no active requests left",
    );
  });
});
