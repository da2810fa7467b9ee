// Several models through the built CLI (simulator, process driver): faults stay with their model. A wake that
// fails (SIM_WAKE_FAIL: vLLM's 500 for a failed remap) restarts that engine like a crash and the request that
// asked for the model is still served; a kill -9 of one model's engine cuts only that model's streams, the others
// keep serving on the same engines, and the killed one comes back alone.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killGroup } from "../src/engine/process-group.js";
import { assertBuilt } from "./helpers/cli.js";
import { endedInError, stopAllRunners, streamProblem } from "./helpers/load.js";
import { answerOf, ask, type ModelFile, type ModelsRunner, startModelsRunner } from "./helpers/models.js";

const MODELS: ModelFile = {
  groups: { g: { gpus: "0", awake: 1 } },
  models: [
    { id: "alpha", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45", SIM_ITL_MS: "30" } },
    // Its engine's first /wake_up answers vLLM's 500 (CUDA out of memory while remapping).
    { id: "beta", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45", SIM_WAKE_FAIL: "1" } },
    { id: "delta", gpus: "1", env: { SIM_ITL_MS: "30" } },
  ],
};

let runner: ModelsRunner;

beforeAll(async () => {
  assertBuilt();
  runner = await startModelsRunner(
    MODELS,
    { MODEL_IDLE_SLEEP: "0" },
    { alpha: "awake", beta: "asleep", delta: "awake" },
  );
}, 90_000);
afterAll(async () => {
  await stopAllRunners();
});

const pidOf = (id: string) => runner.replicasOf(id)[0]?.engineId ?? null;

describe("faults of one model (simulator, process driver)", () => {
  it("a wake that fails restarts that engine like a crash; the requests waiting for the model are served", async () => {
    const alphaPid = pidOf("alpha");
    const betaPid = pidOf("beta");
    const deltaPid = pidOf("delta");
    const answers = await Promise.all(Array.from({ length: 4 }, () => ask(runner.url, "beta")));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    for (const r of answers) expect(answerOf(r).model).toBe("beta");

    const [beta] = runner.replicasOf("beta");
    expect(beta?.lastError?.reason).toBe("wake_failed");
    expect(beta?.lastError?.message).toContain("Call to wake_up method failed: CUDA Error: out of memory");
    expect(beta?.restarts).toBe(1);
    expect(beta?.engineId).not.toBe(betaPid);
    // The restart made room first: alpha asleep on its own engine, delta untouched.
    expect(runner.states()).toEqual({ alpha: "asleep", beta: "awake", delta: "awake" });
    expect(pidOf("alpha")).toBe(alphaPid);
    expect(pidOf("delta")).toBe(deltaPid);
    expect(runner.replicasOf("alpha")[0]?.restarts).toBe(0);
    // A restart is not a wake.
    expect(runner.models().find((m) => m.id === "beta")?.wakes).toBe(0);

    // alpha wakes again as usual (its engine has no failing wake), beta goes back to sleep.
    const alpha = await ask(runner.url, "alpha");
    expect(alpha.status).toBe(200);
    expect(runner.states()).toEqual({ alpha: "awake", beta: "asleep", delta: "awake" });
    expect(runner.models().find((m) => m.id === "alpha")?.wakes).toBe(1);
  });

  it("kill -9 of a dedicated model's engine: the swap group's streams all finish, the killed one restarts alone", async () => {
    const alphaPid = pidOf("alpha");
    const betaPid = pidOf("beta");
    const deltaPid = Number(pidOf("delta"));
    expect(deltaPid).toBeGreaterThan(0);
    const alphaStreams = Array.from({ length: 6 }, () =>
      ask(runner.url, "alpha", { stream: true, tokens: 60, timeoutMs: 60_000 }),
    );
    const deltaStreams = Array.from({ length: 6 }, () =>
      ask(runner.url, "delta", { stream: true, tokens: 60, timeoutMs: 60_000 }),
    );
    await new Promise((r) => setTimeout(r, 600));
    killGroup(deltaPid, "SIGKILL");
    const alphaResults = await Promise.all(alphaStreams);
    const deltaResults = await Promise.all(deltaStreams);
    for (const r of alphaResults) {
      expect(streamProblem("/v1/chat/completions", r)).toBeNull();
      expect(endedInError("/v1/chat/completions", r)).toBe(false);
    }
    // delta's streams end well-formed, with the error ending.
    for (const r of deltaResults) expect(streamProblem("/v1/chat/completions", r)).toBeNull();
    expect(deltaResults.filter((r) => endedInError("/v1/chat/completions", r)).length).toBeGreaterThan(0);

    await runner.waitStates({ delta: "awake" }, 30_000);
    const [delta] = runner.replicasOf("delta");
    expect(delta?.restarts).toBe(1);
    expect(delta?.engineId).not.toBe(String(deltaPid));
    expect((await ask(runner.url, "delta")).status).toBe(200);
    expect([pidOf("alpha"), pidOf("beta")]).toEqual([alphaPid, betaPid]);
    expect(runner.replicasOf("alpha")[0]?.restarts).toBe(0);
  });

  it("kill -9 of a swap group's awake engine: the dedicated model keeps serving, the killed one restarts awake", async () => {
    const alphaPid = Number(pidOf("alpha"));
    const betaPid = pidOf("beta");
    const deltaPid = pidOf("delta");
    const deltaStreams = Array.from({ length: 6 }, () =>
      ask(runner.url, "delta", { stream: true, tokens: 60, timeoutMs: 60_000 }),
    );
    const alphaStreams = Array.from({ length: 3 }, () =>
      ask(runner.url, "alpha", { stream: true, tokens: 60, timeoutMs: 60_000 }),
    );
    await new Promise((r) => setTimeout(r, 600));
    killGroup(alphaPid, "SIGKILL");
    for (const r of await Promise.all(deltaStreams)) {
      expect(streamProblem("/v1/chat/completions", r)).toBeNull();
      expect(endedInError("/v1/chat/completions", r)).toBe(false);
    }
    const cut = await Promise.all(alphaStreams);
    for (const r of cut) expect(streamProblem("/v1/chat/completions", r)).toBeNull();
    expect(cut.filter((r) => endedInError("/v1/chat/completions", r)).length).toBeGreaterThan(0);

    await runner.waitStates({ alpha: "awake" }, 30_000);
    expect(runner.replicasOf("alpha")[0]?.restarts).toBe(1);
    expect(runner.replicasOf("alpha")[0]?.engineId).not.toBe(String(alphaPid));
    const again = await ask(runner.url, "alpha");
    expect(again.status).toBe(200);
    expect(runner.states()).toEqual({ alpha: "awake", beta: "asleep", delta: "awake" });
    expect([pidOf("beta"), pidOf("delta")]).toEqual([betaPid, deltaPid]);
    expect(runner.replicasOf("delta")[0]?.restarts).toBe(1);
  });
});
