// Several models through the built CLI (simulator, process driver): an awake model nobody asks for goes to sleep
// after MODEL_IDLE_SLEEP (a dedicated one never does), a wake slower than MODEL_WAKE_TIMEOUT is a clear 503 with
// Retry-After and the next request finds the model awake, and `llm-runner reload` after one model's entry is
// edited restarts only that model's engine while another model serves on.
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { authHeaders, stopAllRunners, streamProblem } from "./helpers/load.js";
import { answerOf, ask, type ModelFile, type ModelsRunner, startModelsRunner } from "./helpers/models.js";

const MODELS: ModelFile = {
  groups: { g: { gpus: "0", awake: 1 } },
  models: [
    { id: "alpha", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45" } },
    { id: "beta", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45" } },
    // A slow wake: longer than MODEL_WAKE_TIMEOUT.
    { id: "gamma", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45", SIM_WAKE_SECONDS: "3" } },
    { id: "delta", gpus: "1", env: { SIM_ITL_MS: "20" } },
  ],
};

let runner: ModelsRunner;

beforeAll(async () => {
  runner = await startModelsRunner(
    MODELS,
    { MODEL_IDLE_SLEEP: "2", MODEL_WAKE_TIMEOUT: "1.5" },
    { alpha: "awake", beta: "asleep", gamma: "asleep", delta: "awake" },
  );
}, 90_000);
afterAll(async () => {
  await stopAllRunners();
});

const pidOf = (id: string) => runner.replicasOf(id)[0]?.engineId ?? null;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("idle sleep, the wake timeout and reload of one model (simulator, process driver)", () => {
  it("an awake model nobody asks for sleeps after MODEL_IDLE_SLEEP; one in use stays awake; a dedicated one never sleeps", async () => {
    // alpha was last used at boot: it goes to sleep within ~2 s (checked every 0.5 s), with no request at all.
    await runner.waitStates({ alpha: "asleep" }, 10_000);
    expect(runner.states()).toEqual({ alpha: "asleep", beta: "asleep", gamma: "asleep", delta: "awake" });
    expect(runner.models().find((m) => m.id === "alpha")?.sleeps).toBe(1);

    // beta, asked every 0.5 s for 3.5 s (past MODEL_IDLE_SLEEP), stays awake; alpha, already asleep, is not touched.
    const started = Date.now();
    while (Date.now() - started < 3_500) {
      const r = await ask(runner.url, "beta");
      expect(r.status).toBe(200);
      expect(runner.states().beta).toBe("awake");
      await sleep(500);
    }
    const beta = runner.models().find((m) => m.id === "beta");
    expect([beta?.wakes, beta?.sleeps]).toEqual([1, 1]);
    // Left alone, it sleeps too.
    const left = Date.now();
    await runner.waitStates({ beta: "asleep" }, 10_000);
    expect(Date.now() - left).toBeGreaterThanOrEqual(1_000);
    expect(runner.states().delta).toBe("awake");
    expect(runner.replicasOf("delta")[0]?.restarts).toBe(0);
  });

  it("a wake slower than MODEL_WAKE_TIMEOUT is a 503 with Retry-After naming the model; the wake goes on", async () => {
    const sent = Date.now();
    const r = await fetch(`${runner.url}/v1/chat/completions`, {
      method: "POST",
      headers: authHeaders(),
      body: JSON.stringify({ model: "gamma", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
    });
    const ms = Date.now() - sent;
    expect(r.status).toBe(503);
    expect(ms).toBeGreaterThanOrEqual(1_400);
    expect(ms).toBeLessThan(2_900);
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const message = ((await r.json()) as { error: { message: string } }).error.message;
    expect(message).toContain("The model gamma is waking up");
    expect(message).toContain("MODEL_WAKE_TIMEOUT");
    await runner.waitStates({ gamma: "awake" }, 10_000);
    const next = await ask(runner.url, "gamma");
    expect(next.status).toBe(200);
    expect(next.ms).toBeLessThan(1_000);
    expect(answerOf(next).model).toBe("gamma");
    const gamma = runner.models().find((m) => m.id === "gamma");
    expect(gamma?.wakes).toBe(1);
    expect(gamma?.lastWakeMs).toBeGreaterThanOrEqual(3_000);
  });

  it("a reload after one model's entry changed restarts only that model's engine; another model serves on", async () => {
    const pids = { alpha: pidOf("alpha"), beta: pidOf("beta"), gamma: pidOf("gamma"), delta: pidOf("delta") };
    // delta under constant load while the reload runs.
    let loading = true;
    const failures: string[] = [];
    let served = 0;
    const clients = Array.from({ length: 4 }, async () => {
      while (loading) {
        const r = await ask(runner.url, "delta", { stream: true, tokens: 20 });
        const problem =
          r.status !== 200 ? `${r.status} ${r.text.slice(0, 200)}` : streamProblem("/v1/chat/completions", r);
        if (problem !== null) failures.push(problem);
        else served++;
      }
    });

    const edited = JSON.parse(readFileSync(runner.modelsFile, "utf8")) as ModelFile;
    const beta = edited.models.find((m) => m.id === "beta");
    if (beta) beta.env = { ...beta.env, MAX_NUM_SEQS: "16" };
    writeFileSync(runner.modelsFile, JSON.stringify(edited));
    const reload = await runCli(["reload"], runner.env, 60_000);
    loading = false;
    await Promise.all(clients);
    expect(reload.code).toBe(0);
    expect(reload.stderr).toContain("beta");
    expect(reload.stderr).toContain("the other models untouched");
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(0);

    const newBeta = pidOf("beta");
    expect(newBeta).not.toBe(pids.beta);
    expect(readFileSync(`/proc/${newBeta}/cmdline`, "utf8").split("\0").join(" ")).toContain(
      "--max-num-seqs 16",
    );
    expect({ alpha: pidOf("alpha"), gamma: pidOf("gamma"), delta: pidOf("delta") }).toEqual({
      alpha: pids.alpha,
      gamma: pids.gamma,
      delta: pids.delta,
    });
    expect(runner.replicasOf("beta")[0]?.generation).toBe(2);
    for (const id of ["alpha", "gamma", "delta"]) expect(runner.replicasOf(id)[0]?.generation).toBe(1);
    // The new engine loaded awake after room was made (gamma, awake from the last test, put to sleep).
    expect(runner.states()).toMatchObject({ beta: "awake", gamma: "asleep", alpha: "asleep" });
    const r = await ask(runner.url, "beta");
    expect(r.status).toBe(200);
    expect(answerOf(r).model).toBe("beta");

    // Nothing changed: nothing restarts.
    const again = await runCli(["reload"], runner.env, 60_000);
    expect(again.stderr).toContain("unchanged");
    expect(pidOf("beta")).toBe(newBeta);
  });
});
