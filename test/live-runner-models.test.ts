// Several models (LLM_RUNNER_MODELS_FILE), each its own offer, through the built CLI on the simulator and the fake
// orchestrator (test/helpers/fake-orchestrator.ts, after go-livepeer's ai/runner/live_runner.go and
// server/ai_http.go): one registration per model (app = its id, its runner id, capacity, price and metadata), a
// sleeping model registered "ready" with its state in the metadata, a session reserved on a model's registration
// served by that model (waking it) and refused another, per-model status and metrics, and one aiModels.json entry
// per model with "warm" true only for an awake one.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, runCli, waitFor } from "./helpers/cli.js";
import { FakeOrchestrator } from "./helpers/fake-orchestrator.js";
import { metricsText, type Runner, startRunner, stopAllRunners } from "./helpers/load.js";

const SECRET = "orch-secret-for-model-offers";
const LLAMA = "meta-llama/Meta-Llama-3.1-8B-Instruct";
const QWEN = "Qwen/Qwen2.5-7B-Instruct";
const orchestrators: FakeOrchestrator[] = [];

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllRunners();
  for (const o of orchestrators.splice(0)) await o.stop().catch(() => {});
});

type Registration = ReturnType<FakeOrchestrator["registered"]>[number];

/** Two models in one swap group (one awake at a time), each priced on its own, registered dynamically. */
async function twoModels(extra: Record<string, string> = {}): Promise<{
  o: FakeOrchestrator;
  runner: Runner;
  byApp: (app: string) => Registration;
}> {
  const o = await new FakeOrchestrator({ secret: SECRET, intervalMs: 1_000, ttlMs: 4_000 }).start();
  orchestrators.push(o);
  const runner = await startRunner(
    { LIVE_RUNNER_ORCH_URL: o.url, LIVE_RUNNER_SECRET: SECRET, ...extra },
    { launch: false },
  );
  const file = join(runner.home, "models.json");
  writeFileSync(
    file,
    JSON.stringify({
      groups: { shared: { gpus: "0", awake: 1, sleep_level: 1 } },
      models: [
        {
          id: LLAMA,
          group: "shared",
          env: {
            GPU_MEMORY_UTILIZATION: "0.45",
            MAX_NUM_SEQS: "8",
            PRICE_PER_UNIT: "3",
            LIVE_RUNNER_PRICE_USD_PER_HOUR: "2.5",
          },
        },
        {
          id: QWEN,
          group: "shared",
          env: {
            GPU_MEMORY_UTILIZATION: "0.45",
            MAX_NUM_SEQS: "4",
            PRICE_PER_UNIT: "7",
            LIVE_RUNNER_PRICE_USD_PER_HOUR: "1.25",
            SIM_WAKE_SECONDS: "0.3",
          },
        },
      ],
    }),
  );
  runner.env.LLM_RUNNER_MODELS_FILE = file;
  const started = await runCli(["start", "--detach"], runner.env, 90_000);
  expect(started.code, `${started.stdout}\n${started.stderr}`).toBe(0);
  const byApp = (app: string) => {
    const r = o.registered().find((x) => x.req.app === app);
    if (!r) throw new Error(`no registration for ${app}`);
    return r;
  };
  await waitFor(
    async () => {
      const regs = o.registered();
      return regs.length === 2 && regs.every((r) => o.isReady(r)) ? true : null;
    },
    30_000,
    "both models registered and ready",
  );
  return { o, runner, byApp };
}

const metadataOf = (r: Registration) =>
  JSON.parse(String(r.req.metadata)) as { model: string; state: string };

describe("several models, each its own Live Runner offer", () => {
  it("registers each model, routes a session to its model (waking it), and shows each offer", {
    timeout: 120_000,
  }, async () => {
    const { o, runner, byApp } = await twoModels({ SIM_MODE: "lorem" });
    const llama = byApp(LLAMA);
    const qwen = byApp(QWEN);
    // Two registrations: each its own runner id, app, capacity (its MAX_NUM_SEQS) and price.
    expect(llama.id).not.toBe(qwen.id);
    expect(llama.req).toMatchObject({ app: LLAMA, capacity: 8, status: "ready", mode: "single-shot" });
    expect(qwen.req).toMatchObject({ app: QWEN, capacity: 4, status: "ready" });
    expect((llama.req.price_info as { price: unknown }).price).toBe(2.5);
    expect((qwen.req.price_info as { price: unknown }).price).toBe(1.25);
    // The group keeps one awake: the first model; the other is registered, routable, and says it is asleep.
    await waitFor(
      async () => (metadataOf(byApp(QWEN)).state === "asleep" ? true : null),
      20_000,
      "qwen's heartbeat says asleep",
    );
    expect(metadataOf(byApp(LLAMA))).toMatchObject({ model: LLAMA, state: "awake" });
    expect(metadataOf(byApp(QWEN)).model).toBe(QWEN);
    expect(o.isReady(byApp(QWEN))).toBe(true);

    // aiModels.json: one entry per model, each its own price; warm only for the awake one.
    const ai = await runCli(["orchestrator", "--json"], runner.env);
    expect(ai.code, ai.stderr).toBe(0);
    const doc = JSON.parse(ai.stdout) as {
      aiModels: Array<{ model_id: string; warm: boolean; price_per_unit: number; capacity: number }>;
    };
    expect(doc.aiModels.map((e) => [e.model_id, e.warm, e.price_per_unit])).toEqual([
      [LLAMA, true, 3],
      [QWEN, false, 7],
    ]);

    // A single-shot session on qwen's registration: the body names no model, so it is qwen's; it wakes qwen.
    const res = await fetch(`${o.url}/apps/${qwen.id}/app/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe(QWEN);
    expect(o.proxied.at(-1)?.headers["livepeer-runner-route"]).toBe(qwen.id);
    // The swap shows on both registrations: qwen awake, llama asleep (the group keeps one awake).
    await waitFor(
      async () =>
        metadataOf(byApp(QWEN)).state === "awake" && metadataOf(byApp(LLAMA)).state === "asleep"
          ? true
          : null,
      20_000,
      "the heartbeats follow the swap",
    );
    // /llm through llama's registration: llama's, woken in turn.
    const llm = await fetch(`${o.url}/apps/${llama.id}/app/llm`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
    });
    expect(llm.status, await llm.clone().text()).toBe(200);
    expect(((await llm.json()) as { model: string }).model).toBe(LLAMA);
    // A session on llama's registration that names qwen is refused: it was reserved (and priced) as llama's.
    const other = await fetch(`${o.url}/apps/${llama.id}/app/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: QWEN, messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
    });
    expect(other.status).toBe(403);
    expect(await other.text()).toContain(`reserved on the registration of the model '${LLAMA}'`);

    // status: one registration line per model; --json: each model's own registration.
    const text = await runCli(["status"], runner.env);
    expect(text.stdout).toContain(`${LLAMA}: registered as ${llama.id}`);
    expect(text.stdout).toContain(`${QWEN}: registered as ${qwen.id}`);
    const json = JSON.parse((await runCli(["status", "--json"], runner.env)).stdout) as {
      models: Array<{ id: string; liveRunner?: { runnerId: string } }>;
      liveRunner?: unknown;
    };
    expect(json.liveRunner).toBeUndefined();
    expect(json.models.map((m) => [m.id, m.liveRunner?.runnerId])).toEqual([
      [LLAMA, llama.id],
      [QWEN, qwen.id],
    ]);
    // /metrics: the registration's series once per model.
    const metrics = await metricsText(runner.url);
    expect(metrics).toContain(`llm_runner_live_runner_registered{model="${LLAMA}"} 1`);
    expect(metrics).toContain(`llm_runner_live_runner_capacity{model="${QWEN}"} 4`);
    expect(metrics).toContain(`llm_runner_live_runner_price_usd_per_hour{model="${QWEN}"} 1.25`);

    // runners.json for a static registration: one entry per model, each with its own label, app and health_url.
    const statik = await runCli(["orchestrator", "--live-runner", "--json", "--label", "node1"], runner.env);
    expect(statik.code, statik.stderr).toBe(0);
    const runners = (JSON.parse(statik.stdout) as { runners: Array<Record<string, unknown>> }).runners;
    expect(
      runners.map((r) => [r.label, r.app, r.capacity, (r.price_info as { price: number }).price]),
    ).toEqual([
      [`node1-meta-llama-Meta-Llama-3.1-8B-Instruct`, LLAMA, 8, 2.5],
      [`node1-Qwen-Qwen2.5-7B-Instruct`, QWEN, 4, 1.25],
    ]);
    // Each health_url answers for its model alone: 200 while its engines are ready, asleep included.
    for (const r of runners) {
      const health = await fetch(`${runner.url}${String(r.health_url)}`);
      expect(health.status).toBe(200);
      expect(((await health.json()) as { model: string }).model).toBe(r.app);
    }

    // stop unregisters both.
    await runner.stop();
    expect(o.unregisters.map((u) => [u.runnerId, u.status]).sort()).toEqual(
      [
        [llama.id, 204],
        [qwen.id, 204],
      ].sort(),
    );
  });

  it("keeps a persistent session on its model: reserved on a sleeping model's registration, it wakes it", {
    timeout: 120_000,
  }, async () => {
    const { o, runner, byApp } = await twoModels({ LIVE_RUNNER_MODE: "persistent" });
    await waitFor(
      async () => (metadataOf(byApp(QWEN)).state === "asleep" ? true : null),
      20_000,
      "qwen asleep",
    );
    const qwen = byApp(QWEN);
    const reserved = await fetch(`${o.url}/apps/${qwen.id}/session`, { method: "POST" });
    expect(reserved.status).toBe(200);
    const { app_url } = (await reserved.json()) as { app_url: string };
    for (const body of [
      { messages: [{ role: "user", content: "one" }], max_tokens: 4 },
      { model: QWEN, messages: [{ role: "user", content: "two" }], max_tokens: 4 },
    ]) {
      const res = await fetch(`${app_url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(((await res.json()) as { model: string }).model).toBe(QWEN);
    }
    type Status = {
      models: Array<{ id: string; state: string; wakes: number; liveRunner?: { sessions: number } }>;
    };
    // status.json is rewritten on changes and every few seconds: wait for the wake's count to reach it.
    const status = await waitFor(
      async () => {
        const s = JSON.parse((await runCli(["status", "--json"], runner.env)).stdout) as Status;
        return (s.models.find((m) => m.id === QWEN)?.wakes ?? 0) >= 1 ? s : null;
      },
      10_000,
      "qwen's wake in status",
    );
    expect(status.models.find((m) => m.id === QWEN)).toMatchObject({
      state: "awake",
      liveRunner: { sessions: 1 },
    });
    // The session is qwen's alone: llama's registration holds none.
    expect(status.models.find((m) => m.id === LLAMA)?.liveRunner?.sessions).toBe(0);
  });
  it("with GATEWAY_WORKERS=2 every worker binds a session to its registration's model and shows each offer", {
    timeout: 120_000,
  }, async () => {
    const { byApp, runner, o } = await twoModels({ GATEWAY_WORKERS: "2" });
    await waitFor(
      async () => (metadataOf(byApp(QWEN)).state === "asleep" ? true : null),
      20_000,
      "qwen asleep",
    );
    const via = (reg: Registration, model?: string) =>
      fetch(`${o.url}/apps/${reg.id}/app/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          ...(model ? { model } : {}),
          messages: [{ role: "user", content: "hi" }],
          max_tokens: 4,
        }),
      });
    // Four at once: several connections, dealt out to both workers. A session on qwen's registration is qwen's
    // (and wakes it), one on llama's that names qwen is refused, one on llama's without a model is llama's.
    const check = async (reg: Registration, model: string | undefined, status: number, served?: string) => {
      const all = await Promise.all(Array.from({ length: 4 }, () => via(reg, model)));
      for (const res of all) {
        expect(res.status, await res.clone().text()).toBe(status);
        if (served) expect(((await res.json()) as { model: string }).model).toBe(served);
      }
    };
    await check(byApp(QWEN), undefined, 200, QWEN);
    await check(byApp(LLAMA), QWEN, 403);
    await check(byApp(LLAMA), undefined, 200, LLAMA);
    // Each worker shows each model's registration on /metrics and /live-runner?model=.
    for (let i = 0; i < 2; i++) {
      const metrics = await metricsText(runner.url);
      expect(metrics).toContain(`llm_runner_live_runner_registered{model="${LLAMA}"} 1`);
      expect(metrics).toContain(`llm_runner_live_runner_capacity{model="${QWEN}"} 4`);
      const health = await fetch(`${runner.url}/live-runner?model=${encodeURIComponent(QWEN)}`);
      expect(health.status).toBe(200);
      expect(((await health.json()) as { model: string }).model).toBe(QWEN);
    }
  });
});
