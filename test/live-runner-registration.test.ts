// The runner as a dynamic Livepeer Live Runner, through the built CLI, against a fake orchestrator written from
// go-livepeer's registry rules (test/helpers/fake-orchestrator.ts): registration, heartbeats and the secret they
// carry, the truth they tell through a crash, capacity following REPLICAS, re-registration after the orchestrator
// restarts, a wrong secret, an orchestrator that is down, and unregistering before the drain on stop.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, REPO, runCli, waitFor } from "./helpers/cli.js";
import { FakeOrchestrator } from "./helpers/fake-orchestrator.js";
import { authHeaders, startRunner, stopAllRunners } from "./helpers/load.js";

const SECRET = "orch-secret-for-tests";
const orchestrators: FakeOrchestrator[] = [];

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllRunners();
  for (const o of orchestrators.splice(0)) await o.stop().catch(() => {});
});

async function orchestrator(options: Partial<ConstructorParameters<typeof FakeOrchestrator>[0]> = {}) {
  const o = await new FakeOrchestrator({
    secret: SECRET,
    intervalMs: 1_000,
    ttlMs: 4_000,
    ...options,
  }).start();
  orchestrators.push(o);
  return o;
}

function liveEnv(o: FakeOrchestrator, extra: Record<string, string> = {}): Record<string, string> {
  return { LIVE_RUNNER_ORCH_URL: o.url, LIVE_RUNNER_SECRET: SECRET, ...extra };
}

type LiveStatus = {
  registered: boolean;
  runnerId: string | null;
  problem: string | null;
  sent: { status: string; capacity: number } | null;
};
const liveStatus = async (runner: { status(): Promise<Record<string, unknown>> }) =>
  (await runner.status()).liveRunner as LiveStatus | undefined;

describe("dynamic registration", () => {
  it("registers with the registration secret, then heartbeats every interval with the heartbeat secret", {
    timeout: 60_000,
  }, async () => {
    const o = await orchestrator();
    const runner = await startRunner(
      liveEnv(o, {
        MAX_NUM_SEQS: "6",
        LIVE_RUNNER_PRICE_USD_PER_HOUR: "0.75",
        LLM_RUNNER_FAKE_GPUS: join(REPO, "test/fixtures/gpu/8xh100-query-gpu.csv"),
        GPU_IDS: "3",
      }),
    );
    const registered = await waitFor(
      async () => {
        const s = await liveStatus(runner);
        return s?.registered && s.sent?.status === "ready" ? s : null;
      },
      15_000,
      "the runner to register as ready",
    );
    const r = o.only();
    expect(registered.runnerId).toBe(r.id);
    expect(registered.sent?.capacity).toBe(6);

    // The first accepted call carried the registration secret; every later one the heartbeat secret.
    await waitFor(
      async () => (o.heartbeats.filter((h) => h.status === 200).length >= 5 ? true : null),
      10_000,
      "5 heartbeats",
    );
    const ok = o.heartbeats.filter((h) => h.status === 200);
    expect(ok[0]?.authorization).toBe(SECRET);
    expect(ok[0]?.body?.runner_id).toBeUndefined();
    for (const h of ok.slice(1)) {
      expect(h.authorization).toBe(r.heartbeatSecret);
      expect(h.body?.runner_id).toBe(r.id);
    }
    // Cadence: the reply's interval (1 s), not a hard-coded 5 s.
    const readyBeats = ok.slice(1).filter((h) => h.body?.status === "ready");
    const gaps = readyBeats.slice(1).map((h, i) => h.at - (readyBeats[i]?.at ?? 0));
    expect(Math.max(...gaps)).toBeLessThan(1_800);
    expect(Math.min(...gaps)).toBeGreaterThan(700);
    expect(r.req).toMatchObject({
      runner_url: runner.url,
      mode: "single-shot",
      app: "meta-llama/Meta-Llama-3.1-8B-Instruct",
      status: "ready",
      capacity: 6,
      price_info: { price: 0.75, currency: "usd", unit: "hour" },
      // The GPU probe's first GPU of GPU_IDS, as go-livepeer's LiveRunnerGPU.
      gpu: { id: "3", name: "NVIDIA H100 80GB HBM3", vram_mb: 81559 },
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    // /metrics and /live-runner say the same.
    const metrics = await (await fetch(`${runner.url}/metrics`)).text();
    expect(metrics).toMatch(/^llm_runner_live_runner_registered 1$/m);
    expect(metrics).toMatch(/^llm_runner_live_runner_heartbeats_total\{result="registered"\} 1$/m);
    const live = await fetch(`${runner.url}/live-runner`);
    expect(live.status).toBe(200);
    expect(await live.json()).toMatchObject({
      status: "ready",
      capacity: 6,
      registration: { registered: true },
    });

    // stop: unregister (204) before the engines drain; the secrets never reach the log.
    const stopped = await runCli(["stop", "--timeout", "20"], runner.env);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(o.unregisters).toEqual([{ runnerId: r.id, status: 204 }]);
    const log = readFileSync(join(runner.home, "runner.log"), "utf8");
    expect(log).toContain("unregistered from the orchestrator");
    expect(log).not.toContain(SECRET);
    expect(log).not.toContain(r.heartbeatSecret);
  });

  it("says not ready within one interval of an engine crash, and ready again after the restart", {
    timeout: 60_000,
  }, async () => {
    const o = await orchestrator();
    // The third request kills the engine; its restart loads for 3 s.
    const runner = await startRunner(liveEnv(o, { SIM_CRASH_AFTER: "3", SIM_LOAD_SECONDS: "3" }));
    await waitFor(
      async () => ((await liveStatus(runner))?.sent?.status === "ready" ? true : null),
      15_000,
      "ready",
    );
    const body = JSON.stringify({ messages: [{ role: "user", content: "hi" }], max_tokens: 4 });
    for (let i = 0; i < 3; i++) {
      await fetch(`${runner.url}/llm`, { method: "POST", headers: authHeaders(), body }).then((r) =>
        r.text(),
      );
    }
    const crashedAt = Date.now();
    const down = await waitFor(
      async () =>
        o.heartbeats.find((h) => h.at >= crashedAt - 200 && h.status === 200 && h.body?.status !== "ready") ??
        null,
      5_000,
      "a heartbeat that is not ready",
    );
    expect(down.at - crashedAt).toBeLessThan(1_000);
    expect(down.body?.capacity).toBe(0);
    expect(o.isReady(o.only())).toBe(false);
    // Not routable: the orchestrator refuses to reserve it.
    expect(o.reserve(o.only().id).status).toBe(404);
    await waitFor(async () => (o.isReady(o.only()) ? true : null), 20_000, "ready again after the restart");
  });

  it("capacity follows REPLICAS and a reload", { timeout: 90_000 }, async () => {
    const o = await orchestrator();
    const dir = mkdtempSync(join(tmpdir(), "llmr-live-"));
    const envFile = join(dir, "runner.env");
    writeFileSync(envFile, "REPLICAS=2\nMAX_NUM_SEQS=3\nSIM_LOAD_SECONDS=0.5\n");
    try {
      const runner = await startRunner(liveEnv(o, { LLM_RUNNER_ENV_FILE: envFile }));
      await waitFor(
        async () => (o.only().req.capacity === 6 ? true : null),
        15_000,
        "capacity 6 with 2 replicas",
      );
      writeFileSync(envFile, "REPLICAS=3\nMAX_NUM_SEQS=3\nSIM_LOAD_SECONDS=0.5\n");
      const reloaded = await runCli(["reload"], runner.env, 60_000);
      expect(reloaded.code, reloaded.stdout + reloaded.stderr).toBe(0);
      await waitFor(
        async () => (o.only().req.capacity === 9 ? true : null),
        15_000,
        "capacity 9 with 3 replicas",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("when the orchestrator misbehaves", () => {
  it("registers again after the orchestrator restarts and forgets it (the old secret gets 401)", {
    timeout: 60_000,
  }, async () => {
    const o = await orchestrator();
    const runner = await startRunner(liveEnv(o));
    await waitFor(async () => ((await liveStatus(runner))?.registered ? true : null), 15_000, "registered");
    const before = o.only().id;
    await o.restart();
    const again = await waitFor(
      async () => {
        const r = o.runner(before);
        return r && o.isReady(r) ? r : null;
      },
      15_000,
      "registered again under the same id",
    );
    const refused = o.heartbeats.filter((h) => h.status === 401);
    expect(refused.length).toBeGreaterThan(0);
    // The refused one carried the old heartbeat secret; the next carried the registration secret.
    const after = o.heartbeats.indexOf(refused[0] as (typeof refused)[number]);
    expect(o.heartbeats[after + 1]?.authorization).toBe(SECRET);
    expect(again.id).toBe(before);
    expect((await liveStatus(runner))?.registered).toBe(true);
  });

  it("a runner silent past the TTL is dropped by the orchestrator's sweep, and registers again when it wakes", {
    timeout: 60_000,
  }, async () => {
    const o = await orchestrator();
    const runner = await startRunner(liveEnv(o));
    await waitFor(async () => ((await liveStatus(runner))?.registered ? true : null), 15_000, "registered");
    const id = o.only().id;
    // Frozen (a long GC pause, a partition): no heartbeat for more than the 4 s TTL; the sweep removes it.
    process.kill(runner.pid, "SIGSTOP");
    try {
      await waitFor(
        async () => (o.runner(id) === undefined ? true : null),
        10_000,
        "the sweep to drop the runner",
      );
    } finally {
      process.kill(runner.pid, "SIGCONT");
    }
    const back = await waitFor(
      async () => {
        const r = o.runner(id);
        return r && o.isReady(r) ? r : null;
      },
      15_000,
      "registered again",
    );
    expect(back.id).toBe(id);
    // The first heartbeat after waking met the registration path with the old secret: 401, then registration.
    const refused = o.heartbeats.findIndex((h) => h.status === 401);
    expect(refused).toBeGreaterThan(0);
    expect(o.heartbeats[refused + 1]).toMatchObject({ status: 200, authorization: SECRET });
  });

  it("a wrong registration secret: a clear status, retried with backoff, the runner keeps serving", {
    timeout: 60_000,
  }, async () => {
    const o = await orchestrator();
    const runner = await startRunner({ LIVE_RUNNER_ORCH_URL: o.url, LIVE_RUNNER_SECRET: "not-the-secret" });
    const s = await waitFor(
      async () => {
        const l = await liveStatus(runner);
        return l?.problem?.includes("invalid registration authorization") ? l : null;
      },
      15_000,
      "the status to name the refusal",
    );
    expect(s.registered).toBe(false);
    expect(s.problem).toContain("LIVE_RUNNER_SECRET");
    const tries = o.heartbeats.length;
    await new Promise((r) => setTimeout(r, 4_000));
    // Backoff: 1, 2, 4 s … not a hot loop.
    expect(o.heartbeats.length - tries).toBeLessThanOrEqual(3);
    const res = await fetch(`${runner.url}/v1/chat/completions`, {
      method: "POST",
      headers: authHeaders(),
      body: JSON.stringify({
        model: "meta-llama/Meta-Llama-3.1-8B-Instruct",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 4,
      }),
    });
    expect(res.status).toBe(200);
    const log = readFileSync(join(runner.home, "runner.log"), "utf8");
    expect(log).not.toContain("not-the-secret");
    const human = await runCli(["status"], runner.env);
    expect(human.stdout).toMatch(/live runner\s+not registered: invalid registration authorization/);
  });

  it("an orchestrator that is down or answers garbage: direct traffic is served, status and /metrics say so", {
    timeout: 60_000,
  }, async () => {
    const o = await orchestrator();
    const port = o.listenPort;
    await o.stop();
    const runner = await startRunner(liveEnv(o));
    const s = await waitFor(
      async () => {
        const l = await liveStatus(runner);
        return l?.problem?.includes("unreachable") ? l : null;
      },
      15_000,
      "status to say unreachable",
    );
    expect(s.registered).toBe(false);
    const metrics = await (await fetch(`${runner.url}/metrics`)).text();
    expect(metrics).toMatch(/^llm_runner_live_runner_registered 0$/m);
    expect(metrics).toMatch(/^llm_runner_live_runner_heartbeats_total\{result="unreachable"\} [1-9]/m);
    const res = await fetch(`${runner.url}/llm`, {
      method: "POST",
      headers: authHeaders(),
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
    });
    expect(res.status).toBe(200);
    // It comes back: the runner registers within its backoff.
    await o.start(port);
    await waitFor(
      async () => ((await liveStatus(runner))?.registered ? true : null),
      40_000,
      "registered once it is up",
    );
  });
});
