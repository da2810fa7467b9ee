import { describe, expect, it } from "vitest";
import { FakeClock } from "../../supervisor/clock.js";
import { LiveSessions } from "./live-sessions.js";
import { type ModelRegistration, modelsSessionGate, registeredSessionGate } from "./session-gate.js";

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

describe("the session gate of several models, one registration each", () => {
  function several(registered = [true, true]) {
    const clock = new FakeClock(0);
    const refreshes = [0, 0];
    const regs: ModelRegistration[] = ["llama", "qwen"].map((model, k) => ({
      model,
      state: {
        runnerId: registered[k] ? `runner_${model}` : null,
        isRegistered: registered[k] as boolean,
        refreshSessions: () => {
          refreshes[k] = (refreshes[k] as number) + 1;
        },
      },
      sessions: new LiveSessions(clock),
    }));
    const gate = modelsSessionGate(regs, 2_000);
    const headers = (sessionId: string, route: string | undefined) => ({ sessionId, route, token: "tok" });
    return { clock, regs, gate, headers, refreshes };
  }

  it("names the model of the registration the proxy routed the session through", async () => {
    const t = several();
    t.regs[1]?.sessions.reserve("session_q");
    t.regs[0]?.sessions.reserve("session_l");
    expect(await t.gate.check(t.headers("session_q", "runner_qwen"))).toEqual({ ok: true, model: "qwen" });
    expect(await t.gate.check(t.headers("session_l", "runner_llama"))).toEqual({ ok: true, model: "llama" });
    // Without the route header (the proxy always sends it), the registration that holds the session.
    expect(await t.gate.check(t.headers("session_q", undefined))).toEqual({ ok: true, model: "qwen" });
  });

  it("refuses a session presented on another model's registration, and a route that is none of ours", async () => {
    const t = several();
    t.regs[1]?.sessions.reserve("session_q");
    const wrong = t.gate.check(t.headers("session_q", "runner_llama"));
    await t.clock.advance(2_000);
    expect(await wrong).toMatchObject({
      ok: false,
      message: expect.stringContaining("not one the orchestrator"),
    });
    expect(t.refreshes).toEqual([1, 0]); // only the named registration was asked
    expect(await t.gate.check(t.headers("session_q", "runner_else"))).toMatchObject({
      ok: false,
      message: expect.stringContaining("another runner"),
    });
  });

  it("waits for a session not known yet on the named registration", async () => {
    const t = several();
    const verdict = t.gate.check(t.headers("session_new", "runner_qwen"));
    await t.clock.advance(300);
    t.regs[1]?.sessions.reserve("session_new");
    expect(await verdict).toEqual({ ok: true, model: "qwen" });
  });

  it("checks only the registered models; none registered: refused at once", async () => {
    const t = several([false, true]);
    t.regs[0]?.sessions.reserve("session_l");
    expect(await t.gate.check(t.headers("session_l", "runner_llama"))).toMatchObject({
      ok: false,
      message: expect.stringContaining("another runner"),
    });
    const none = several([false, false]);
    expect(await none.gate.check(none.headers("session_l", undefined))).toMatchObject({
      ok: false,
      message: expect.stringContaining("not registered"),
    });
    expect(
      await t.gate.check({ sessionId: "session_l", route: "runner_qwen", token: undefined }),
    ).toMatchObject({ ok: false, message: expect.stringContaining("Livepeer-Session-Token is missing") });
  });
});
