import { describe, expect, it } from "vitest";
import { FakeClock } from "../../supervisor/clock.js";
import { LiveSessions } from "./live-sessions.js";
import { registeredSessionGate } from "./session-gate.js";

function setup(registered = true) {
  const clock = new FakeClock(0);
  const sessions = new LiveSessions(clock);
  let refreshes = 0;
  const gate = registeredSessionGate(
    {
      runnerId: registered ? "runner_me" : null,
      isRegistered: registered,
      refreshSessions: () => refreshes++,
    },
    sessions,
    2_000,
  );
  const headers = (sessionId: string, extra: { route?: string; token?: string } = {}) => ({
    sessionId,
    route: "route" in extra ? extra.route : "runner_me",
    token: "token" in extra ? extra.token : "tok",
  });
  return { clock, sessions, gate, headers, refreshes: () => refreshes };
}

describe("the Live Runner session gate", () => {
  it("lets a reserved session through at once", async () => {
    const t = setup();
    t.sessions.reserve("session_a");
    expect(await t.gate.check(t.headers("session_a"))).toEqual({ ok: true });
    expect(t.refreshes()).toBe(0);
  });

  it("waits for a session the o2r event has not brought yet, asking for a heartbeat meanwhile", async () => {
    const t = setup();
    const verdict = t.gate.check(t.headers("session_b"));
    await t.clock.advance(300);
    expect(t.refreshes()).toBe(1);
    t.sessions.reserve("session_b");
    expect(await verdict).toEqual({ ok: true });
  });

  it("refuses a session nobody reserved after the wait", async () => {
    const t = setup();
    const verdict = t.gate.check(t.headers("session_forged"));
    await t.clock.advance(2_000);
    expect(await verdict).toMatchObject({
      ok: false,
      message: expect.stringContaining("not one the orchestrator reserved"),
    });
  });

  it("refuses at once: another runner's route, no session token, a malformed id, or no registration", async () => {
    const t = setup();
    t.sessions.reserve("session_a");
    expect(await t.gate.check(t.headers("session_a", { route: "runner_other" }))).toMatchObject({
      ok: false,
    });
    expect(await t.gate.check(t.headers("session_a", { token: undefined }))).toMatchObject({
      ok: false,
      message: expect.stringContaining("Livepeer-Session-Token is missing"),
    });
    expect(await t.gate.check(t.headers("session a/../"))).toMatchObject({ ok: false });
    const off = setup(false);
    off.sessions.reserve("session_a");
    expect(await off.gate.check(off.headers("session_a"))).toMatchObject({
      ok: false,
      message: expect.stringContaining("not registered"),
    });
  });
});

describe("LiveSessions", () => {
  it("a heartbeat reply drops what the orchestrator released and adds what it reserved", () => {
    const s = new LiveSessions(new FakeClock(0));
    s.reserve("a");
    s.reserve("b");
    const mark = s.mark();
    s.reserve("c"); // after the heartbeat left
    s.reconcile(["b", "d"], mark);
    expect(s.list().sort()).toEqual(["b", "c", "d"]);
    s.release("b");
    expect(s.has("b")).toBe(false);
    s.clear();
    expect(s.size).toBe(0);
  });
});
