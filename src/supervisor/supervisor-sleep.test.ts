// Supervisor.sleep / wake (vLLM's sleep mode, a model of a swap group) over a fake engine and a fake sleep client.
import { describe, expect, it } from "vitest";
import type { EngineSleepClient, SleepLevel } from "./engine-sleep.js";
import { setup, startReady } from "./testing/supervisor-harness.js";
import type { SleepState } from "./types.js";

class FakeSleep implements EngineSleepClient {
  calls: string[] = [];
  failWake: Error | null = null;
  async sleep(_e: unknown, level: SleepLevel) {
    this.calls.push(`sleep ${level}`);
  }
  async wake(_e: unknown, level: SleepLevel) {
    this.calls.push(`wake ${level}`);
    if (this.failWake) throw this.failWake;
  }
}

function sleepy(extra: Parameters<typeof setup>[0] = {}, beforeRestart?: () => Promise<void>) {
  const client = new FakeSleep();
  const t = setup(
    { sleepMode: { level: 1, timeoutMs: 30_000 }, ...extra },
    { sleep: client, ...(beforeRestart ? { beforeRestart } : {}) },
  );
  const sleeps: SleepState[] = [];
  t.sup.on((ev) => {
    if (ev.type === "sleep") sleeps.push(ev.state);
  });
  return { ...t, client, sleeps };
}

describe("Supervisor sleep mode", () => {
  it("sleeps and wakes an idle engine; asleep it stays ready (routable) but admits nothing itself", async () => {
    const t = sleepy();
    await startReady(t);
    expect(t.sup.snapshot().sleep).toBe("awake");
    await t.sup.sleep();
    expect(t.sleeps).toEqual(["falling_asleep", "asleep"]);
    expect(t.sup.snapshot()).toMatchObject({ state: "ready", sleep: "asleep" });
    expect(t.sup.admit()).toBeNull();
    await t.sup.wake();
    expect(t.sleeps).toEqual(["falling_asleep", "asleep", "waking", "awake"]);
    expect(t.sup.admit()).not.toBeNull();
    expect(t.client.calls).toEqual(["sleep 1", "wake 1"]);
  });

  it("a level-2 sleep is woken at level 2 (the weights reloaded)", async () => {
    const t = sleepy();
    await startReady(t);
    await t.sup.sleep(2);
    await t.sup.wake();
    expect(t.client.calls).toEqual(["sleep 2", "wake 2"]);
  });

  it("refuses to sleep with requests in flight, or without sleep mode", async () => {
    const t = sleepy();
    await startReady(t);
    const ticket = t.sup.admit();
    await expect(t.sup.sleep()).rejects.toThrow("1 request(s) are in flight");
    ticket?.end();
    const plain = setup();
    await startReady(plain);
    await expect(plain.sup.sleep()).rejects.toThrow("without sleep mode");
    expect(plain.sup.snapshot().sleep).toBeUndefined();
  });

  it("no canary goes to a sleeping engine (it would queue and read as a hang); it resumes once awake", async () => {
    const t = sleepy({ canaryIntervalMs: 1_000, canaryTimeoutMs: 500 });
    await startReady(t);
    await t.sup.sleep();
    const before = t.canary.calls.length;
    await t.clock.advance(10_000);
    expect(t.canary.calls.length).toBe(before);
    expect(t.sup.snapshot().state).toBe("ready");
    await t.sup.wake();
    await t.clock.advance(1_500);
    expect(t.canary.calls.length).toBeGreaterThan(before);
  });

  it("a wake that fails restarts the engine like a crash (wake_failed), making room first; it comes back awake", async () => {
    const rooms: string[] = [];
    const t = sleepy({}, async () => {
      rooms.push("room");
    });
    await startReady(t);
    expect(rooms).toEqual([]); // the first start makes no room: the set did before starting it
    await t.sup.sleep();
    t.client.failWake = new Error("POST /wake_up answered HTTP 500");
    await expect(t.sup.wake()).rejects.toThrow("HTTP 500");
    await t.clock.advance(0);
    expect(t.sup.snapshot()).toMatchObject({ state: "restarting", restarts: 1 });
    expect(t.sup.snapshot().lastError).toMatchObject({
      reason: "wake_failed",
      message: "the engine did not wake up: POST /wake_up answered HTTP 500",
    });
    await t.clock.advance(10_000);
    expect(rooms).toEqual(["room"]);
    expect(t.driver.engines).toHaveLength(2);
    t.probe.result = "ok";
    await t.clock.advance(300);
    expect(t.sup.snapshot()).toMatchObject({ state: "ready", sleep: "awake" });
  });
});
