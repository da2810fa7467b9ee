import { SpanStatusCode } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../log/logger.js";
import { memoryTracer } from "../telemetry/testing/memory-tracer.js";
import { NOOP_TRACER } from "../telemetry/tracer.js";
import { FakeClock } from "./clock.js";
import type { EngineSleepClient } from "./engine-sleep.js";
import { LifecycleTrace } from "./lifecycle-trace.js";
import { Supervisor } from "./supervisor.js";
import { FakeCanary, FakeDriver, FakeProbe } from "./testing/supervisor-harness.js";

/** A real Supervisor over the fake engine, clock and canary, followed by a lifecycle trace. */
function traced(
  options: { canaryIntervalMs?: number; canaryTimeoutMs?: number; hangTimeoutMs?: number } = {},
  sleep?: EngineSleepClient,
) {
  const memory = memoryTracer();
  const lifecycle = new LifecycleTrace(memory.tracer, { "llm_runner.engine": "sim" });
  const clock = new FakeClock();
  const driver = new FakeDriver();
  const probe = new FakeProbe();
  const canary = new FakeCanary();
  const sup = new Supervisor(
    {
      instanceId: "test",
      engine: "sim",
      modelId: "m",
      buildArgs: () => ["m"],
      env: {},
      stallTimeoutMs: 60_000,
      hangTimeoutMs: options.hangTimeoutMs ?? 10_000,
      drainTimeoutMs: 5_000,
      stopGraceMs: 3_000,
      ...options,
      ...(sleep ? { sleepMode: { level: 1 as const, timeoutMs: 30_000 } } : {}),
    },
    {
      driver,
      clock,
      probe,
      canary: lifecycle.canary(0, canary),
      logger: silentLogger(),
      ...(sleep ? { sleep } : {}),
    },
  );
  lifecycle.watch(0, sup, sleep ? "beta" : undefined);
  const ready = async () => {
    await clock.advance(0);
    probe.result = "ok";
    await clock.advance(300);
    expect(sup.snapshot().state).toBe("ready");
  };
  return { ...memory, lifecycle, clock, driver, probe, canary, sup, ready };
}

const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);

describe("lifecycle trace", () => {
  it("spans the engine's start until ready under the runner's start span, loading as an event", async () => {
    const t = traced();
    await t.sup.start();
    t.lifecycle.started();
    await t.ready();
    const spans = await t.spans();
    const [root] = named(spans, "runner.start");
    const [start] = named(spans, "engine.start");
    expect(start?.parentSpanContext?.spanId).toBe(root?.spanContext().spanId);
    expect(start?.attributes).toMatchObject({ "llm_runner.replica": 0, "llm_runner.engine.generation": 1 });
    expect(start?.events.map((e) => e.name)).toContain("loading");
    expect(named(spans, "engine.serve")).toEqual([]); // still serving: exported when it ends
  });

  it("fails the serving span with the crash, and spans the restart's backoff with its reason", async () => {
    const t = traced();
    await t.sup.start();
    await t.ready();
    t.driver.last.exit(1);
    await t.clock.advance(0);
    expect(t.sup.snapshot().state).toBe("restarting");
    await t.clock.advance(5_000);
    await t.ready();
    const spans = await t.spans();
    const [serve] = named(spans, "engine.serve");
    expect(serve?.status.code).toBe(SpanStatusCode.ERROR);
    expect(serve?.attributes["error.type"]).toBe("crash");
    expect(serve?.events.map((e) => e.name)).toEqual(["engine.failure"]);
    const [restart] = named(spans, "engine.restart");
    expect(restart?.attributes).toMatchObject({
      "llm_runner.failure.reason": "crash",
      "llm_runner.engine.restarts": 1,
    });
    expect(named(spans, "engine.start").map((s) => s.attributes["llm_runner.engine.generation"])).toEqual([
      1, 2,
    ]);
  });

  it("gives a hung engine's serving span its reason, which comes only once the engine was killed", async () => {
    const t = traced({ hangTimeoutMs: 10_000 });
    await t.sup.start();
    await t.ready();
    t.sup.admit(); // a request that never gets a token
    await t.clock.advance(10_500);
    expect(t.sup.snapshot().lastError?.reason).toBe("hang");
    const [serve] = named(await t.spans(), "engine.serve");
    expect(serve?.status.code).toBe(SpanStatusCode.ERROR);
    expect(serve?.attributes["error.type"]).toBe("hang");
    const [restart] = named(await t.spans(), "engine.restart");
    expect(restart).toBeUndefined(); // the backoff is still on
  });

  it("spans each canary: its latency, or the timeout that calls the engine hung", async () => {
    const t = traced({ canaryIntervalMs: 60_000, canaryTimeoutMs: 10_000 });
    await t.sup.start();
    await t.ready();
    await t.clock.advance(60_000);
    t.canary.auto = null;
    await t.clock.advance(60_000 + 10_000);
    expect(t.sup.snapshot().lastError?.reason).toBe("hang");
    const canaries = named(await t.spans(), "engine.canary");
    expect(canaries.map((s) => [s.status.code, s.attributes["error.type"]])).toEqual([
      [SpanStatusCode.UNSET, undefined],
      [SpanStatusCode.ERROR, "timeout"],
    ]);
    expect(canaries[0]?.attributes["llm_runner.canary.latency_ms"]).toBeGreaterThanOrEqual(0);
  });

  it("spans a stop's drain and closes the serving span with it", async () => {
    const t = traced();
    await t.sup.start();
    await t.ready();
    const ticket = t.sup.admit();
    const stopped = t.sup.stop();
    await t.clock.advance(0);
    ticket?.end();
    await t.clock.advance(0);
    await stopped;
    const spans = await t.spans();
    expect(named(spans, "engine.serve")[0]?.status.code).toBe(SpanStatusCode.UNSET);
    expect(named(spans, "engine.drain")).toHaveLength(1);
    // Each stretch starts the instant the one before ends: no overlap, no gap.
    const [start, serve, drain] = ["engine.start", "engine.serve", "engine.drain"].map(
      (n) => named(spans, n)[0],
    );
    expect(serve?.startTime).toEqual(start?.endTime);
    expect(drain?.startTime).toEqual(serve?.endTime);
  });

  it("with tracing off, hands the canary back unwrapped and follows nothing", () => {
    const lifecycle = new LifecycleTrace(NOOP_TRACER, {});
    const canary = new FakeCanary();
    expect(lifecycle.canary(0, canary)).toBe(canary);
    let subscribed = false;
    lifecycle.watch(0, {
      on: () => {
        subscribed = true;
        return () => {};
      },
    });
    expect(subscribed).toBe(false);
  });

  it("a swap group's sleep and wake are spans of their own, named for the model; a failed wake fails its span", async () => {
    let failWake = false;
    const client: EngineSleepClient = {
      sleep: async () => {},
      wake: async () => {
        if (failWake) throw new Error("Call to wake_up method failed: CUDA Error: out of memory");
      },
    };
    const t = traced({}, client);
    await t.sup.start();
    await t.ready();
    await t.sup.sleep();
    await t.sup.wake();
    await t.sup.sleep();
    failWake = true;
    await t.sup.wake().catch(() => {});
    const spans = await t.spans();
    const sleeps = named(spans, "engine.sleep");
    const wakes = named(spans, "engine.wake");
    expect(sleeps).toHaveLength(2);
    expect(wakes).toHaveLength(2);
    expect(sleeps[0]?.attributes).toMatchObject({ "llm_runner.replica": 0, "llm_runner.model": "beta" });
    expect(wakes[0]?.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(wakes[1]?.status.code).toBe(SpanStatusCode.ERROR);
    expect(wakes[1]?.attributes["error.type"]).toBe("wake_failed");
  });
});
