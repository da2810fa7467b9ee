// The registration loop on a fake clock, against an orchestrator scripted by go-livepeer's answers
// (ai/runner/live_runner.go Heartbeat/Unregister, server/ai_http.go; see test/helpers/fake-orchestrator.ts).
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../log/logger.js";
import { FakeClock } from "../../supervisor/clock.js";
import type { HeartbeatRequest } from "./heartbeat-wire.js";
import { LiveRunnerAgent, type RunnerTruth } from "./live-runner-agent.js";
import { LiveSessions } from "./live-sessions.js";
import type { OrchestratorAnswer, OrchestratorHttp } from "./orchestrator-client.js";

interface Call {
  at: number;
  url: string;
  body: HeartbeatRequest | undefined;
  authorization: string | null;
}

const REGISTERED = {
  runner_id: "runner_abc",
  orchestrator: "http://orch:8935",
  heartbeat_interval: "5s",
  heartbeat_ttl: "20s",
  heartbeat_secret: "hb-secret",
  o2r: null,
  session_ids: [],
};
const BEAT = { runner_id: "runner_abc", heartbeat_interval: "5s", heartbeat_ttl: "20s", session_ids: [] };

function setup(answer: (call: Call, n: number) => OrchestratorAnswer) {
  const clock = new FakeClock(0);
  const calls: Call[] = [];
  const http: OrchestratorHttp = {
    async post(url, body, authorization) {
      const call = { at: clock.now(), url, body: body as HeartbeatRequest | undefined, authorization };
      calls.push(call);
      return answer(call, calls.length);
    },
    get: () => new Promise(() => {}),
    close: async () => {},
  };
  let truth: RunnerTruth = { status: "ready", capacity: 8 };
  const sessions = new LiveSessions(clock);
  const agent = new LiveRunnerAgent({
    identity: {
      orchestratorUrl: "http://orch:8935",
      registrationSecret: "reg-secret",
      runnerUrl: "http://10.0.0.5:8000",
      mode: "single-shot",
      app: "model/x",
      label: null,
      version: "0.1.0",
      gpu: { id: "0", name: "NVIDIA H100 80GB HBM3", vram_mb: 81559 },
    },
    truth: () => truth,
    price: () => 1.5,
    sessions,
    http,
    timers: clock,
    logger: silentLogger(),
  });
  return {
    clock,
    calls,
    agent,
    sessions,
    setTruth: (t: RunnerTruth) => {
      truth = t;
    },
  };
}

const ok = (body: unknown): OrchestratorAnswer => ({ kind: "ok", status: 200, body });
const status = (code: number, message: string): OrchestratorAnswer => ({
  kind: "status",
  status: code,
  message,
});

describe("LiveRunnerAgent", () => {
  it("registers with the registration secret, then beats every interval with the heartbeat secret", async () => {
    const t = setup((_c, n) => ok(n === 1 ? REGISTERED : BEAT));
    t.agent.start();
    await t.clock.advance(0);
    expect(t.calls[0]).toMatchObject({
      url: "http://orch:8935/runners/heartbeat",
      authorization: "reg-secret",
    });
    expect(t.calls[0]?.body).toEqual({
      runner_url: "http://10.0.0.5:8000",
      version: "0.1.0",
      status: "ready",
      mode: "single-shot",
      gpu: { id: "0", name: "NVIDIA H100 80GB HBM3", vram_mb: 81559 },
      app: "model/x",
      capacity: 8,
      price_info: { price: 1.5, currency: "usd", unit: "hour" },
      session_ids: [],
    });
    await t.clock.advance(15_000);
    expect(t.calls.map((c) => c.at)).toEqual([0, 5_000, 10_000, 15_000]);
    for (const c of t.calls.slice(1)) {
      expect(c.authorization).toBe("hb-secret");
      expect(c.body?.runner_id).toBe("runner_abc");
    }
    expect(t.agent.snapshot()).toMatchObject({ registered: true, runnerId: "runner_abc", problem: null });
    expect(t.agent.snapshot().heartbeats).toMatchObject({ registered: 1, ok: 3 });
  });

  it("sends a heartbeat at once when the truth changes, not at the next tick", async () => {
    const t = setup((_c, n) => ok(n === 1 ? REGISTERED : BEAT));
    t.agent.start();
    await t.clock.advance(1_000);
    t.setTruth({ status: "restarting", capacity: 0 });
    t.agent.notify();
    await t.clock.advance(0);
    expect(t.calls.at(-1)).toMatchObject({ at: 1_000, body: { status: "restarting", capacity: 0 } });
    // Nothing new to say: no extra heartbeat.
    t.agent.notify();
    await t.clock.advance(0);
    expect(t.calls).toHaveLength(2);
    // The 1 s watch finds a change nobody announced (the ledger, say).
    t.setTruth({ status: "ready", capacity: 8 });
    await t.clock.advance(1_000);
    expect(t.calls.at(-1)).toMatchObject({ at: 2_000, body: { status: "ready" } });
  });

  it("a heartbeat refused with 401 (the orchestrator restarted) registers again at once, proposing its id", async () => {
    let forgotten = false;
    const t = setup((c, n) => {
      if (n === 1) return ok(REGISTERED);
      if (forgotten && c.authorization === "hb-secret")
        return status(401, "invalid registration authorization");
      if (c.authorization === "reg-secret") return ok({ ...REGISTERED, heartbeat_secret: "hb-2" });
      return ok(BEAT);
    });
    t.agent.start();
    await t.clock.advance(5_000);
    forgotten = true;
    await t.clock.advance(5_000);
    const [refused, again] = t.calls.slice(-2);
    expect(refused).toMatchObject({ at: 10_000, authorization: "hb-secret" });
    expect(again).toMatchObject({
      at: 10_000,
      authorization: "reg-secret",
      body: { runner_id: "runner_abc" },
    });
    await t.clock.advance(5_000);
    expect(t.calls.at(-1)?.authorization).toBe("hb-2");
    expect(t.agent.snapshot().heartbeats).toMatchObject({ auth_refused: 1, registered: 2 });
  });

  it("a 404 on a heartbeat (expired, not swept yet) also registers again", async () => {
    const t = setup((c, n) => {
      if (n === 1) return ok(REGISTERED);
      if (n === 2) return status(404, "runner not found");
      return c.authorization === "reg-secret" ? ok(REGISTERED) : ok(BEAT);
    });
    t.agent.start();
    await t.clock.advance(5_000);
    expect(t.calls.map((c) => c.authorization)).toEqual(["reg-secret", "hb-secret", "reg-secret"]);
  });

  it("a registration refused with 401 is a wrong secret: said in status, retried with backoff", async () => {
    const t = setup(() => status(401, "invalid registration authorization"));
    t.agent.start();
    await t.clock.advance(40_000);
    expect(t.calls.map((c) => c.at)).toEqual([0, 1_000, 3_000, 7_000, 15_000, 31_000]);
    const snap = t.agent.snapshot();
    expect(snap.registered).toBe(false);
    expect(snap.problem).toBe(
      "not registered: invalid registration authorization (HTTP 401): LIVE_RUNNER_SECRET is not the orchestrator's -orchSecret",
    );
    await t.clock.advance(60_000);
    // The backoff stops growing at 30 s.
    expect(t.calls.at(-1)?.at).toBe(91_000);
  });

  it("words each other refusal for the operator", async () => {
    const answers: OrchestratorAnswer[] = [
      status(404, "dynamic live runner registration is disabled"),
      status(400, "price_info.price is required"),
      { kind: "unreachable", message: "ECONNREFUSED: connect ECONNREFUSED 10.0.0.2:8935" },
      { kind: "garbage", status: 200, message: "HTTP 200 with a body that is not JSON (text/html)" },
      ok({ runner_id: "r", heartbeat_interval: "5s", heartbeat_ttl: "20s" }),
      status(502, "bad gateway"),
    ];
    const t = setup((_c, n) => answers[n - 1] ?? status(500, "x"));
    t.agent.start();
    const problems: Array<string | null> = [];
    for (let i = 0; i < answers.length; i++) {
      await t.clock.advance(i === 0 ? 0 : 2 ** (i - 1) * 1_000);
      problems.push(t.agent.snapshot().problem);
    }
    expect(problems).toEqual([
      expect.stringContaining("start it with -useLiveRunners -orchSecret"),
      expect.stringContaining("an on-chain orchestrator needs LIVE_RUNNER_PRICE_USD_PER_HOUR"),
      "the orchestrator at http://orch:8935 is unreachable: ECONNREFUSED: connect ECONNREFUSED 10.0.0.2:8935",
      "the orchestrator's reply can't be used: HTTP 200 with a body that is not JSON (text/html)",
      "the orchestrator's reply can't be used: the registration reply has no heartbeat_secret",
      "the orchestrator answered HTTP 502 (bad gateway)",
    ]);
    expect(t.agent.snapshot().heartbeats).toMatchObject({
      not_found: 1,
      bad_request: 1,
      unreachable: 1,
      bad_reply: 2,
      server_error: 1,
    });
  });

  it("an orchestrator gone while registered: retried within the TTL; past it, the sessions are dropped", async () => {
    let down = false;
    const t = setup((_c, n) =>
      down
        ? { kind: "unreachable", message: "ECONNREFUSED" }
        : ok(n === 1 ? { ...REGISTERED, session_ids: ["s1"] } : BEAT),
    );
    t.agent.start();
    await t.clock.advance(0);
    expect(t.sessions.list()).toEqual(["s1"]);
    down = true;
    await t.clock.advance(12_000);
    expect(t.agent.snapshot().registered).toBe(true);
    expect(t.sessions.has("s1")).toBe(true);
    await t.clock.advance(15_000);
    expect(t.agent.snapshot().registered).toBe(false);
    expect(t.sessions.size).toBe(0);
    // Retries never wait longer than the interval while it holds a secret.
    const gaps = t.calls.slice(1).map((c, i) => c.at - (t.calls[i]?.at ?? 0));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(5_000);
  });

  it("takes the reply's session list as the truth, keeping sessions that arrived after the heartbeat left", async () => {
    let release: (a: OrchestratorAnswer) => void = () => {};
    const slow = new Promise<OrchestratorAnswer>((r) => {
      release = r;
    });
    const t = setup((_c, n) =>
      n === 1 ? ok({ ...REGISTERED, session_ids: ["old"] }) : n === 2 ? (slow as never) : ok(BEAT),
    );
    t.agent.start();
    await t.clock.advance(0);
    expect(t.sessions.list()).toEqual(["old"]);
    // The next heartbeat is on its way when an o2r event reserves "new"; its reply (made earlier) lists neither.
    await t.clock.advance(5_000);
    t.sessions.reserve("new");
    release(ok({ ...BEAT, session_ids: [] }));
    await t.clock.advance(0);
    expect(t.sessions.list()).toEqual(["new"]);
  });

  it("stop unregisters with the heartbeat secret and beats no more", async () => {
    const t = setup((c, n) => (c.url.endsWith("/unregister") ? ok(null) : ok(n === 1 ? REGISTERED : BEAT)));
    t.agent.start();
    await t.clock.advance(5_000);
    await t.agent.stop();
    expect(t.calls.at(-1)).toMatchObject({
      url: "http://orch:8935/runners/runner_abc/unregister",
      authorization: "hb-secret",
    });
    const n = t.calls.length;
    await t.clock.advance(30_000);
    expect(t.calls).toHaveLength(n);
    expect(t.clock.pendingTimers()).toBe(0);
  });

  it("stop during a registration on its way still unregisters what it registered", async () => {
    let release: (a: OrchestratorAnswer) => void = () => {};
    const t = setup((c) =>
      c.url.endsWith("/unregister")
        ? ok(null)
        : (new Promise<OrchestratorAnswer>((r) => {
            release = r;
          }) as never),
    );
    t.agent.start();
    await t.clock.advance(0);
    const stopping = t.agent.stop();
    release(ok(REGISTERED));
    await stopping;
    expect(t.calls.at(-1)?.url).toBe("http://orch:8935/runners/runner_abc/unregister");
  });
});
