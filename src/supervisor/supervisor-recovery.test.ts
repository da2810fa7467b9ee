// Recovery on the real supervisor over the fake clock: the canary watch, exit code 0 as a crash, and the
// crash-loop policy with ENGINE_HEALTHY_RESET.
import { describe, expect, it } from "vitest";
import { setup, startReady } from "./testing/supervisor-harness.js";

describe("Supervisor crash-loop policy (ENGINE_HEALTHY_RESET)", () => {
  it("keeps restarting an engine killed every 20 s when each kill ends a healthy stretch", async () => {
    const t = setup({ restart: { healthyResetMs: 15_000 } });
    await startReady(t);
    for (let i = 0; i < 12; i++) {
      await t.clock.advance(20_000);
      t.driver.last.exit(null, "SIGKILL");
      await t.clock.advance(0);
      expect(t.sup.snapshot().state).toBe("restarting");
      // The streak was reset by the healthy stretch, so the backoff is back at its first step.
      await t.clock.advance(1_000);
      await t.clock.advance(300);
      expect(t.sup.snapshot().state).toBe("ready");
    }
    expect(t.sup.snapshot().restarts).toBe(12);
  });

  it("gives up on the 5th kill when the stretches between them are shorter than ENGINE_HEALTHY_RESET", async () => {
    const t = setup({ restart: { healthyResetMs: 600_000 } });
    await startReady(t);
    for (let i = 0; i < 5; i++) {
      await t.clock.advance(20_000);
      expect(t.sup.snapshot().state).toBe("ready");
      t.driver.last.exit(null, "SIGKILL");
      await t.clock.advance(0);
      if (i < 4) await t.clock.advance(60_000); // past any backoff (1, 2, 4, 8 s) and the readiness poll
    }
    expect(t.sup.snapshot().state).toBe("failed");
    expect(t.sup.snapshot().lastError?.reason).toBe("crash_loop");
    expect(t.sup.snapshot().lastError?.message).toContain("5 times in a row");
    expect(t.sup.snapshot().lastError?.message).toContain("ENGINE_HEALTHY_RESET");
  });
});

describe("Supervisor: an exit we did not ask for", () => {
  it("treats exit code 0 as a crash: restarted and counted", async () => {
    const t = setup();
    await startReady(t);
    t.driver.last.exit(0);
    await t.clock.advance(0);
    expect(t.sup.snapshot()).toMatchObject({ state: "restarting", restarts: 1 });
    expect(t.sup.snapshot().lastError).toMatchObject({ reason: "crash" });
    expect(t.sup.snapshot().lastError?.message).toContain("exit code 0");
    await t.clock.advance(1_300);
    expect(t.sup.snapshot()).toMatchObject({ state: "ready", generation: 2 });
  });

  it("treats exit code 0 after a stop as clean", async () => {
    const t = setup();
    await startReady(t);
    await t.sup.stop();
    t.driver.last.exit(0);
    await t.clock.advance(10_000);
    expect(t.sup.snapshot()).toMatchObject({ state: "stopped", restarts: 0, lastError: null });
  });
});

describe("Supervisor canary watch (ENGINE_CANARY_INTERVAL)", () => {
  const canaryOptions = { canaryIntervalMs: 60_000, canaryTimeoutMs: 10_000, livenessIntervalMs: 5_000 };

  it("sends a 1-token canary to the engine after the interval of idleness, not billed through the gateway", async () => {
    const t = setup(canaryOptions);
    await startReady(t);
    await t.clock.advance(59_000);
    expect(t.canary.calls).toHaveLength(0);
    await t.clock.advance(1_000);
    expect(t.canary.calls).toHaveLength(1);
    expect(t.canary.calls[0]).toMatchObject({ model: "m", endpoint: { apiKey: "key-1", generation: 1 } });
    // The canary holds no ticket: /health stays IDLE, nothing is admitted on its behalf.
    expect(t.sup.snapshot().inFlight).toBe(0);
    await t.clock.advance(60_000);
    expect(t.canary.calls).toHaveLength(2);
    expect(t.sup.snapshot()).toMatchObject({ state: "ready", canary: { sent: 2, ok: 2, timeouts: 0 } });
  });

  it("restarts an idle engine whose canary gets no token in ENGINE_CANARY_TIMEOUT while /health says OK", async () => {
    const t = setup(canaryOptions);
    await startReady(t);
    t.canary.auto = null; // wedged: the canary never gets its token
    await t.clock.advance(60_000 + 9_999);
    expect(t.sup.snapshot().state).toBe("ready");
    await t.clock.advance(1);
    expect(t.canary.calls[0]?.signal.aborted).toBe(true);
    expect(t.sup.snapshot().state).toBe("restarting");
    expect(t.sup.snapshot().lastError?.reason).toBe("hang");
    expect(t.sup.snapshot().lastError?.message).toContain("canary");
    expect(t.sup.snapshot().canary).toMatchObject({ sent: 1, timeouts: 1 });
    expect(t.driver.engines[0]?.stopCalls.length).toBeGreaterThan(0);
    // The next engine gets its own canaries once ready.
    t.canary.auto = { kind: "token" };
    await t.clock.advance(1_300);
    expect(t.sup.snapshot()).toMatchObject({ state: "ready", generation: 2 });
  });

  it("sends no canary while requests are in flight, and waits a full interval after the last one ends", async () => {
    const t = setup(canaryOptions);
    await startReady(t);
    await t.clock.advance(30_000);
    const ticket = t.sup.admit();
    for (let i = 0; i < 12; i++) {
      await t.clock.advance(5_000);
      ticket?.progress();
    }
    expect(t.canary.calls).toHaveLength(0);
    ticket?.end();
    await t.clock.advance(59_000);
    expect(t.canary.calls).toHaveLength(0);
    await t.clock.advance(1_000);
    expect(t.canary.calls).toHaveLength(1);
  });

  it("does not call the engine hung when user requests got tokens while the canary waited", async () => {
    const t = setup(canaryOptions);
    await startReady(t);
    t.canary.auto = null;
    await t.clock.advance(60_000);
    const ticket = t.sup.admit();
    await t.clock.advance(5_000);
    ticket?.progress();
    await t.clock.advance(5_000);
    expect(t.sup.snapshot().state).toBe("ready");
    expect(t.sup.snapshot().canary).toMatchObject({ sent: 1, timeouts: 0 });
    ticket?.end();
  });

  it("counts an error answer without restarting (a dead engine is the liveness probe's job)", async () => {
    const t = setup(canaryOptions);
    await startReady(t);
    t.canary.auto = { kind: "error", detail: "HTTP 500" };
    await t.clock.advance(60_000);
    expect(t.sup.snapshot()).toMatchObject({ state: "ready", canary: { sent: 1, errors: 1 } });
  });

  it("is off with an interval of 0", async () => {
    const t = setup({ canaryIntervalMs: 0 });
    await startReady(t);
    await t.clock.advance(3_600_000);
    expect(t.canary.calls).toHaveLength(0);
    expect(t.sup.snapshot().canary).toBeUndefined();
  });

  it("stops sending canaries when the supervisor stops", async () => {
    const t = setup(canaryOptions);
    await startReady(t);
    await t.sup.stop();
    await t.clock.advance(600_000);
    expect(t.canary.calls).toHaveLength(0);
  });
});
