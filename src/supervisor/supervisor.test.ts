import { describe, expect, it } from "vitest";
import { setup, startReady } from "./testing/supervisor-harness.js";

describe("Supervisor", () => {
  it("goes stopped → starting → loading → ready, with a fresh API key in the engine env", async () => {
    const t = setup();
    t.driver.orphans = ["old-1"];
    await t.sup.start();
    await t.clock.advance(0);
    expect(t.sup.snapshot().state).toBe("loading");
    expect(t.driver.last.spec.env).toEqual({ HF_TOKEN: "hf", VLLM_API_KEY: "key-1" });
    await t.clock.advance(3_000);
    expect(t.sup.snapshot().state).toBe("loading");
    t.probe.result = "ok";
    await t.clock.advance(300);
    expect(t.states).toEqual(["starting", "loading", "ready"]);
    const ticket = t.sup.admit();
    expect(ticket?.endpoint).toEqual({
      baseUrl: "http://127.0.0.1:1/e1",
      apiKey: "key-1",
      generation: 1,
      replica: 0,
    });
    expect(t.sup.snapshot().inFlight).toBe(1);
    ticket?.end();
    ticket?.end();
    expect(t.sup.snapshot().inFlight).toBe(0);
  });

  it("reports loading progress from lifecycle events and admits nothing until ready", async () => {
    const t = setup();
    await t.sup.start();
    await t.clock.advance(0);
    t.driver.last.spec.onEvent({ event: "loading", progress: 0.5, detail: "shards 2/4" });
    expect(t.sup.snapshot()).toMatchObject({ state: "loading", progress: 0.5, progressDetail: "shards 2/4" });
    expect(t.sup.admit()).toBeNull();
  });

  it("restarts a crashed engine with exponential backoff and a new key, aborting in-flight requests", async () => {
    const t = setup();
    await startReady(t);
    const ticket = t.sup.admit();
    t.driver.last.exit(1);
    await t.clock.advance(0);
    expect(ticket?.signal.aborted).toBe(true);
    expect(t.sup.snapshot()).toMatchObject({ state: "restarting", restarts: 1, inFlight: 0 });
    expect(t.sup.snapshot().lastError?.message).toContain("exit code 1");
    // The dead engine is cleaned up (container removed) before the restart reuses its name.
    expect(t.driver.last.stopCalls).toEqual([0]);
    t.probe.result = "unreachable";
    await t.clock.advance(999);
    expect(t.driver.engines).toHaveLength(1);
    await t.clock.advance(1);
    expect(t.driver.engines).toHaveLength(2);
    expect(t.driver.last.spec.env.VLLM_API_KEY).toBe("key-2");
    // Crash again during loading: the delay doubles.
    t.driver.last.exit(1);
    await t.clock.advance(1_999);
    expect(t.driver.engines).toHaveLength(2);
    await t.clock.advance(1);
    expect(t.driver.engines).toHaveLength(3);
    t.probe.result = "ok";
    await t.clock.advance(300);
    expect(t.sup.snapshot()).toMatchObject({ state: "ready", generation: 3, restarts: 2 });
  });

  it("gives up after the crash-loop limit with the last log lines in the error", async () => {
    const t = setup({ restart: { crashLoopLimit: 3 } });
    await startReady(t);
    for (let i = 0; i < 3; i++) {
      t.driver.last.spec.onLog(`boom ${i}`, "stderr");
      t.driver.last.exit(139);
      await t.clock.advance(60_000);
    }
    const snap = t.sup.snapshot();
    expect(snap.state).toBe("failed");
    expect(snap.lastError?.reason).toBe("crash_loop");
    expect(snap.lastError?.message).toContain("3 times");
    expect(snap.lastError?.logTail).toEqual(["boom 2"]);
    expect(t.driver.engines).toHaveLength(3);
  });

  it("fails at once on a fatal start that a restart cannot fix", async () => {
    const t = setup();
    await t.sup.start();
    await t.clock.advance(0);
    t.driver.last.spec.onEvent({
      event: "fatal",
      reason: "cuda_oom",
      detail: "CUDA out of memory",
      hint: "use more GPUs",
    });
    t.driver.last.exit(1);
    await t.clock.advance(10_000);
    expect(t.sup.snapshot().state).toBe("failed");
    expect(t.sup.snapshot().lastError).toMatchObject({
      reason: "cuda_oom",
      message: "CUDA out of memory",
      hint: "use more GPUs",
    });
    expect(t.driver.engines).toHaveLength(1);
  });

  it("fails when the driver cannot start the engine at all", async () => {
    const t = setup();
    t.driver.failStart = Object.assign(new Error("image x not found"), { hint: "build it" });
    await t.sup.start();
    await t.clock.advance(0);
    expect(t.sup.snapshot()).toMatchObject({ state: "failed" });
    expect(t.sup.snapshot().lastError).toMatchObject({ reason: "start_failed", hint: "build it" });
  });

  it("kills and restarts an engine that stalls while loading", async () => {
    const t = setup({ stallTimeoutMs: 10_000 });
    await t.sup.start();
    await t.clock.advance(9_000);
    t.driver.last.spec.onEvent({ event: "loading", progress: 0.1, detail: "x" });
    await t.clock.advance(9_000);
    expect(t.driver.last.stopCalls).toEqual([]);
    await t.clock.advance(1_000);
    expect(t.driver.last.stopCalls[0]).toBe(3_000);
    await t.clock.advance(0);
    expect(t.sup.snapshot().state).toBe("restarting");
    expect(t.sup.snapshot().lastError?.reason).toBe("stall_timeout");
  });

  it("detects a hung engine (requests in flight, no tokens) and restarts it", async () => {
    const t = setup({ hangTimeoutMs: 10_000 });
    await startReady(t);
    const a = t.sup.admit();
    await t.clock.advance(6_000);
    a?.progress();
    await t.clock.advance(6_000);
    expect(t.sup.snapshot().state).toBe("ready");
    // New admissions do not reset the hang clock; only tokens do.
    t.sup.admit();
    await t.clock.advance(4_500);
    expect(t.sup.snapshot().state).toBe("restarting");
    expect(t.sup.admit()).toBeNull();
    expect(a?.signal.aborted).toBe(true);
    expect(t.sup.snapshot().lastError?.reason).toBe("hang");
    expect(t.sup.snapshot().inFlight).toBe(0);
  });

  it("does not call an idle engine hung", async () => {
    const t = setup({ hangTimeoutMs: 1_000 });
    await startReady(t);
    t.sup.admit()?.end();
    await t.clock.advance(60_000);
    expect(t.sup.snapshot().state).toBe("ready");
  });

  it("restarts an engine whose /health turns 503 twice in a row", async () => {
    const t = setup();
    await startReady(t);
    t.probe.result = "unhealthy";
    await t.clock.advance(5_000);
    expect(t.sup.snapshot().state).toBe("ready");
    await t.clock.advance(5_000);
    expect(t.sup.snapshot().state).toBe("restarting");
    expect(t.sup.snapshot().lastError?.reason).toBe("unhealthy");
  });

  it("reports a crash, not unhealthy, when /health fails because the engine has already exited", async () => {
    const t = setup();
    await startReady(t);
    const ticket = t.sup.admit();
    // The engine is gone, and its exit not reported yet (docker: the wait and the log drain take a moment).
    t.driver.last.alive = false;
    t.probe.result = "unreachable";
    await t.clock.advance(10_000);
    expect(t.sup.snapshot().state).toBe("restarting");
    expect(t.sup.admit()).toBeNull();
    expect(ticket?.signal.aborted).toBe(true);
    expect(t.driver.last.stopCalls).toEqual([]);
    t.driver.last.exit(null, "SIGKILL");
    await t.clock.advance(0);
    expect(t.sup.snapshot().lastError).toMatchObject({
      reason: "crash",
      message: "the engine exited unexpectedly (signal SIGKILL)",
    });
    await t.clock.advance(1_000);
    expect(t.driver.engines).toHaveLength(2);
  });

  // vLLM >= 0.18 drains on SIGTERM for --shutdown-timeout (vllm-project/vllm#36666), so the engine
  // drains together with the gateway; SIGKILL comes only after DRAIN_TIMEOUT + ENGINE_STOP_GRACE.
  it("drains in the gateway and in the engine: SIGTERM at once, in-flight work finishes, then the engine is gone", async () => {
    const t = setup({ drainTimeoutMs: 5_000, stopGraceMs: 3_000 });
    await startReady(t);
    const engine = t.driver.last;
    engine.exitOnStop = false;
    const ticket = t.sup.admit();
    let done = false;
    const stopped = t.sup.stop().then(() => {
      done = true;
    });
    await t.clock.advance(0);
    expect(t.sup.snapshot().state).toBe("draining");
    expect(t.sup.admit()).toBeNull();
    expect(engine.stopCalls).toEqual([8_000]);
    ticket?.end();
    await t.clock.advance(0);
    expect(ticket?.signal.aborted).toBe(false);
    expect(done).toBe(false); // the engine is still finishing
    engine.exit(0);
    await stopped;
    expect(engine.stopCalls).toEqual([8_000]); // one SIGTERM, never two
    expect(t.sup.snapshot().state).toBe("stopped");
    // The engine's exit during stop is not a crash.
    expect(t.sup.snapshot().restarts).toBe(0);
  });

  it("with nothing in flight the engine gets ENGINE_STOP_GRACE only", async () => {
    const t = setup({ drainTimeoutMs: 5_000, stopGraceMs: 3_000 });
    await startReady(t);
    await t.sup.stop();
    expect(t.driver.last.stopCalls).toEqual([3_000]);
  });

  it("a draining engine's failed /health is no failure", async () => {
    const t = setup({ drainTimeoutMs: 30_000, livenessIntervalMs: 1_000, livenessFailures: 2 });
    await startReady(t);
    t.driver.last.exitOnStop = false;
    const ticket = t.sup.admit();
    const stopped = t.sup.stop();
    t.probe.result = "unhealthy";
    await t.clock.advance(10_000);
    expect(t.sup.snapshot().state).toBe("draining");
    expect(ticket?.signal.aborted).toBe(false);
    expect(t.driver.last.stopCalls).toEqual([33_000]);
    ticket?.end();
    t.driver.last.exit(0);
    await stopped;
    expect(t.sup.snapshot().restarts).toBe(0);
  });

  it("a forced stop during the drain aborts what is left and kills the engine at once", async () => {
    const t = setup({ drainTimeoutMs: 5_000, stopGraceMs: 3_000 });
    await startReady(t);
    t.driver.last.exitOnStop = false;
    const ticket = t.sup.admit();
    const stopped = t.sup.stop();
    await t.clock.advance(0);
    const forced = t.sup.stop({ force: true });
    await Promise.all([stopped, forced]);
    expect(ticket?.signal.aborted).toBe(true);
    expect(t.driver.last.stopCalls).toEqual([8_000, 0]);
    expect(t.sup.snapshot().state).toBe("stopped");
  });

  it("drain gives up at the deadline and aborts what is left", async () => {
    const t = setup({ drainTimeoutMs: 5_000 });
    await startReady(t);
    const ticket = t.sup.admit();
    const stopped = t.sup.stop();
    await t.clock.advance(4_999);
    expect(ticket?.signal.aborted).toBe(false);
    await t.clock.advance(1);
    await stopped;
    expect(ticket?.signal.aborted).toBe(true);
    expect(t.sup.snapshot().state).toBe("stopped");
  });

  it("stop during a restart backoff cancels the restart", async () => {
    const t = setup();
    await startReady(t);
    t.driver.last.exit(1);
    await t.clock.advance(0);
    await t.sup.stop();
    await t.clock.advance(120_000);
    expect(t.driver.engines).toHaveLength(1);
    expect(t.sup.snapshot().state).toBe("stopped");
  });
});

// vLLM's ready lines change between releases and vanish with a quieter log level; the HTTP probe decides.
describe("Supervisor readiness comes from /health, not from a log line", () => {
  it("a ready lifecycle line while /health still fails is only a hint to probe now", async () => {
    const t = setup();
    await t.sup.start();
    await t.clock.advance(0);
    t.probe.result = "unhealthy";
    const before = t.probe.calls;
    t.driver.last.spec.onEvent({
      event: "ready",
      detail: "Starting vLLM API server 0 on http://0.0.0.0:8000",
    });
    await t.clock.advance(0);
    expect(t.probe.calls).toBeGreaterThan(before);
    expect(t.sup.snapshot().state).toBe("loading");
    expect(t.sup.admit()).toBeNull();
    t.probe.result = "ok";
    await t.clock.advance(300);
    expect(t.sup.snapshot().state).toBe("ready");
  });

  it("with no ready line at all (a silenced log) it is ready as soon as /health answers", async () => {
    const t = setup();
    await t.sup.start();
    await t.clock.advance(0);
    t.driver.last.spec.onEvent({ event: "loading", progress: 1, detail: "init engine took 25.99 seconds" });
    t.probe.result = "ok";
    await t.clock.advance(300);
    expect(t.sup.snapshot().state).toBe("ready");
  });
});
