import { describe, expect, it } from "vitest";
import { silentLogger } from "../log/logger.js";
import { FakeClock } from "./clock.js";
import type { EngineFailure } from "./engine-failure.js";
import type { ProbeResult } from "./engine-probe.js";
import { HealthWatch } from "./health-watch.js";
import { RequestTickets } from "./request-tickets.js";
import type { EngineEndpoint, SupervisorState } from "./types.js";

const ENDPOINT: EngineEndpoint = { baseUrl: "http://127.0.0.1:1", apiKey: "k", generation: 1 };

/** A watch on a fake clock, with a scripted /health and the supervisor's side recorded. */
function setup(answers: ProbeResult[] = []) {
  const clock = new FakeClock();
  const tickets = new RequestTickets(clock);
  const seen = { ready: 0, down: [] as EngineFailure[], probes: 0 };
  let state: SupervisorState = "loading";
  const watch = new HealthWatch(
    {
      modelId: "m",
      stallTimeoutMs: 10_000,
      hangTimeoutMs: 4_000,
      readinessPollMs: 300,
      livenessIntervalMs: 1_000,
    },
    {
      clock,
      logger: silentLogger(),
      tickets,
      probe: {
        health: async () => {
          seen.probes++;
          return answers.shift() ?? "ok";
        },
      },
      state: () => state,
      endpoint: () => ENDPOINT,
      onReady: () => {
        seen.ready++;
        state = "ready";
      },
      onDown: (failure) => seen.down.push(failure),
    },
  );
  return { clock, tickets, watch, seen, setState: (s: SupervisorState) => (state = s) };
}

describe("HealthWatch", () => {
  it("polls /health while loading until it answers OK, then reports ready once", async () => {
    const t = setup(["unreachable", "unhealthy", "ok"]);
    t.watch.pollReadiness(0);
    await t.clock.advance(0);
    expect(t.seen.ready).toBe(0);
    await t.clock.advance(600);
    expect(t.seen).toMatchObject({ ready: 1, probes: 3, down: [] });
  });

  it("a loading engine that shows no sign of life for ENGINE_STALL_TIMEOUT is down (stall_timeout)", async () => {
    const t = setup();
    t.watch.armStall();
    await t.clock.advance(9_000);
    t.watch.signOfLife(); // a log line resets the timer
    await t.clock.advance(9_000);
    expect(t.seen.down).toEqual([]);
    await t.clock.advance(1_000);
    expect(t.seen.down.map((f) => f.reason)).toEqual(["stall_timeout"]);
  });

  it("the stall timer does not fire once the engine is ready", async () => {
    const t = setup();
    t.watch.armStall();
    t.setState("ready");
    t.watch.watchReady(ENDPOINT);
    await t.clock.advance(20_000);
    expect(t.seen.down).toEqual([]);
  });

  it("two failed liveness probes in a row are unhealthy; one is forgiven", async () => {
    const t = setup(["unhealthy", "ok", "unreachable", "unreachable"]);
    t.setState("ready");
    t.watch.watchReady(ENDPOINT);
    await t.clock.advance(2_000);
    expect(t.seen.down).toEqual([]);
    await t.clock.advance(2_000);
    expect(t.seen.down).toHaveLength(1);
    expect(t.seen.down[0]).toMatchObject({
      reason: "unhealthy",
      message: "the engine stopped answering /health",
    });
  });

  it("a request in flight with no engine byte for ENGINE_HANG_TIMEOUT is a hang", async () => {
    const t = setup();
    t.setState("ready");
    t.watch.watchReady(ENDPOINT);
    const ticket = t.tickets.issue(ENDPOINT);
    await t.clock.advance(3_000);
    ticket.progress();
    await t.clock.advance(3_000);
    expect(t.seen.down).toEqual([]);
    await t.clock.advance(2_000);
    expect(t.seen.down.map((f) => f.reason)).toEqual(["hang"]);
    expect(t.seen.down[0]?.message).toContain("1 request(s) in flight");
    ticket.end();
  });

  it("a request held by its client's backpressure is not a hang, however long; the others are still watched", async () => {
    const t = setup();
    t.setState("ready");
    t.watch.watchReady(ENDPOINT);
    const held = t.tickets.issue(ENDPOINT);
    held.backpressure?.(true);
    await t.clock.advance(20_000);
    expect(t.seen.down).toEqual([]);
    const waiting = t.tickets.issue(ENDPOINT);
    await t.clock.advance(5_000);
    expect(t.seen.down.map((f) => f.reason)).toEqual(["hang"]);
    expect(t.seen.down[0]?.message).toContain(
      "on 1 request(s) in flight, streamed or not (1 more held by clients not reading, not counted)",
    );
    held.end();
    waiting.end();
  });

  it("stop() clears every timer", async () => {
    const t = setup();
    t.watch.armStall();
    t.watch.pollReadiness(100);
    t.setState("ready");
    t.watch.watchReady(ENDPOINT);
    t.watch.stop();
    expect(t.clock.pendingTimers()).toBe(0);
  });

  it("a 'ready' line is confirmed over HTTP at once, only while loading", async () => {
    const t = setup();
    t.setState("starting");
    t.watch.lifecycle({ event: "ready" });
    await t.clock.advance(0);
    expect(t.seen.probes).toBe(0);
    t.setState("loading");
    t.watch.lifecycle({ event: "ready" });
    await t.clock.advance(0);
    expect(t.seen).toMatchObject({ probes: 1, ready: 1 });
  });

  it("refuses a canary interval without a canary", () => {
    const clock = new FakeClock();
    expect(
      () =>
        new HealthWatch(
          { modelId: "m", stallTimeoutMs: 1, hangTimeoutMs: 1, canaryIntervalMs: 1_000 },
          {
            clock,
            logger: silentLogger(),
            tickets: new RequestTickets(clock),
            probe: { health: async () => "ok" },
            state: () => "ready",
            endpoint: () => null,
            onReady: () => {},
            onDown: () => {},
          },
        ),
    ).toThrow(/needs deps.canary/);
  });
});
