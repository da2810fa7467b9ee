// Several models (LLM_RUNNER_MODELS_FILE) through the built CLI, simulator engines, process driver: three models
// in one swap group with two awake. Routing by `model` (/v1/models lists all, an unknown model is refused), a
// request for a sleeping model wakes it after the least recently used awake one is put to sleep, and alternating
// demand with requests in flight fails none of them.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "./helpers/cli.js";
import { call, metricsText, type Route, stopAllRunners, streamProblem } from "./helpers/load.js";
import {
  answerOf,
  ask,
  labelled,
  type ModelFile,
  type ModelsRunner,
  startModelsRunner,
} from "./helpers/models.js";

const MODELS: ModelFile = {
  groups: { g: { gpus: "0", awake: 2 } },
  models: [
    { id: "alpha", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.4" } },
    { id: "beta", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.4" } },
    { id: "gamma", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.4", SIM_ITL_MS: "20" } },
  ],
};

let runner: ModelsRunner;

beforeAll(async () => {
  assertBuilt();
  // MODEL_IDLE_SLEEP 0: no model sleeps on its own here (models-idle-reload.test.ts has idle sleep).
  runner = await startModelsRunner(
    MODELS,
    { MODEL_IDLE_SLEEP: "0" },
    { alpha: "awake", beta: "awake", gamma: "asleep" },
  );
}, 90_000);
afterAll(async () => {
  await stopAllRunners();
});

describe("three models in a swap group of two awake (simulator, process driver)", () => {
  it("boots the first two of the file awake and lists every model on /v1/models", async () => {
    expect(runner.states()).toEqual({ alpha: "awake", beta: "awake", gamma: "asleep" });
    const list = await call(runner.url, "/v1/models", "", { method: "GET" });
    expect(list.status).toBe(200);
    const ids = (JSON.parse(list.text) as { data: Array<{ id: string }> }).data.map((m) => m.id);
    expect(ids).toEqual(["alpha", "beta", "gamma"]);
  });

  it("refuses a model not served here: 404 in vLLM's words on /v1, 400 on /llm, waking nothing", async () => {
    const v1 = await ask(runner.url, "nope");
    expect(v1.status).toBe(404);
    expect(JSON.parse(v1.text)).toMatchObject({
      error: { message: expect.stringContaining("The model `nope` does not exist."), code: 404 },
    });
    const llm = await ask(runner.url, "nope", { route: "/llm" });
    expect(llm.status).toBe(400);
    expect(JSON.parse(llm.text).detail.msg).toContain("'nope' is not served here");
    expect(runner.states()).toEqual({ alpha: "awake", beta: "awake", gamma: "asleep" });
  });

  it("routes by `model`, and a request for a sleeping model wakes it after the least recently used one sleeps", async () => {
    // alpha used after beta: beta is the least recently used awake model.
    for (const id of ["beta", "alpha"]) {
      const r = await ask(runner.url, id);
      expect(r.status).toBe(200);
      expect(answerOf(r).model).toBe(id);
    }
    const woke = await ask(runner.url, "gamma");
    expect(woke.status).toBe(200);
    expect(answerOf(woke)).toEqual({ model: "gamma", content: "w0 w1 w2 w3 w4 w5 w6 w7" });
    // The wake (0.3 s) and the eviction's sleep (0.2 s) are in that request's time.
    expect(woke.ms).toBeGreaterThanOrEqual(450);
    expect(runner.states()).toEqual({ alpha: "awake", beta: "asleep", gamma: "awake" });

    // Now alpha is the least recently used awake one: beta's wake evicts it, gamma stays.
    const beta = await ask(runner.url, "beta", { route: "/llm", stream: true });
    expect(streamProblem("/llm", beta)).toBeNull();
    expect(beta.status).toBe(200);
    expect(runner.states()).toEqual({ alpha: "asleep", beta: "awake", gamma: "awake" });

    const figures = Object.fromEntries(runner.models().map((m) => [m.id, m]));
    expect([figures.gamma?.wakes, figures.beta?.wakes, figures.alpha?.wakes]).toEqual([1, 1, 0]);
    expect(figures.alpha?.sleeps).toBe(1);
    expect(figures.gamma?.lastWakeMs).toBeGreaterThanOrEqual(300);
    expect(figures.gamma?.lastWakeMs).toBeLessThan(3_000);
    const metrics = await metricsText(runner.url);
    expect(labelled(metrics, "llm_runner_model_wakes_total", { model: "gamma" })).toBe(1);
    expect(labelled(metrics, "llm_runner_model_state", { model: "alpha", state: "asleep" })).toBe(1);
    expect(labelled(metrics, "llm_runner_model_state", { model: "beta", state: "awake" })).toBe(1);
    expect(
      labelled(metrics, "llm_runner_model_last_wake_seconds", { model: "gamma" }),
    ).toBeGreaterThanOrEqual(0.3);
  });

  it("alternating demand over the three models with streams in flight: every request served, none cut", async () => {
    const wakesBefore = runner.models().reduce((n, m) => n + m.wakes, 0);
    const ROUTES: Route[] = ["/v1/chat/completions", "/llm"];
    const ids = ["alpha", "beta", "gamma"];
    // 4 waves of 6 streams; each wave asks for two models, the next wave's pair differs by one model.
    const results: Array<{ id: string; route: Route; r: Awaited<ReturnType<typeof ask>> }> = [];
    for (let wave = 0; wave < 4; wave++) {
      const pair = [ids[wave % 3] as string, ids[(wave + 1) % 3] as string];
      const batch = await Promise.all(
        Array.from({ length: 6 }, async (_, i) => {
          const id = pair[i % 2] as string;
          const route = ROUTES[i % 2] as Route;
          return { id, route, r: await ask(runner.url, id, { route, stream: true, tokens: 20 }) };
        }),
      );
      results.push(...batch);
    }
    const failed = results.filter(({ route, r }) => r.status !== 200 || streamProblem(route, r) !== null);
    expect(failed.map(({ id, r }) => `${id}: ${r.status} ${r.text.slice(0, 200)}`)).toEqual([]);
    // Every answer came from the model it asked for, in full (the simulator echoes the prompt).
    for (const { id, route, r } of results) {
      const frames = r.text.split("\n\n").filter((f) => f.startsWith("data: {"));
      const text = frames
        .map((f) => {
          const c = JSON.parse(f.slice(6)) as {
            model?: string;
            choices: Array<{ delta?: { content?: string }; text?: string }>;
          };
          if (route === "/v1/chat/completions") expect(c.model).toBe(id);
          return c.choices[0]?.delta?.content ?? c.choices[0]?.text ?? "";
        })
        .join("");
      expect(text.trim().split(/\s+/)).toHaveLength(20);
    }
    const wakes = runner.models().reduce((n, m) => n + m.wakes, 0) - wakesBefore;
    expect(wakes).toBeGreaterThanOrEqual(2);
    expect(Object.values(runner.states()).filter((s) => s === "awake")).toHaveLength(2);
  });

  it("the dashboard's Models row queries only series this runner's /metrics exposes, one per model", async () => {
    const dashboard = JSON.parse(
      readFileSync(new URL("../dashboards/llm-runner.json", import.meta.url), "utf8"),
    ) as {
      panels: Array<{
        type: string;
        title: string;
        targets?: Array<{ expr: string; legendFormat?: string }>;
      }>;
    };
    const row = dashboard.panels.findIndex((p) => p.type === "row" && p.title === "Models");
    expect(row).toBeGreaterThan(-1);
    const next = dashboard.panels.findIndex((p, i) => i > row && p.type === "row");
    const panels = dashboard.panels.slice(row + 1, next === -1 ? undefined : next);
    expect(panels.map((p) => p.title)).toEqual([
      "Model state",
      "Model wakes and sleeps",
      "Model wake time",
      "Model active requests",
    ]);
    const metrics = await metricsText(runner.url);
    for (const p of panels)
      for (const t of p.targets ?? []) {
        expect(t.legendFormat).toContain("{{model}}");
        const names = [...t.expr.matchAll(/llm_runner_model_\w+/g)].map((m) => m[0]);
        expect(names.length).toBeGreaterThan(0);
        for (const name of names)
          for (const id of ["alpha", "beta", "gamma"])
            expect(labelled(metrics, name, { model: id }), `${name} ${id}`).not.toBeNull();
      }
  });

  it("status has a line per model with its state, group and wakes", async () => {
    const status = await runner.status();
    const models = status.models as Array<{ id: string; state: string; group: string }>;
    expect(models.map((m) => m.id)).toEqual(["alpha", "beta", "gamma"]);
    expect(models.every((m) => m.group === "g")).toBe(true);
    const replicas = status.replicas as Array<{ model: string; sleep: string }>;
    expect(replicas.map((r) => r.model)).toEqual(["alpha", "beta", "gamma"]);
    expect(replicas.map((r) => r.sleep)).toEqual(models.map((m) => m.state));
  });
});
