import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfigFrom } from "./config-source.js";
import { loadModelList } from "./model-list.js";
import { parseModels } from "./models-file.js";
import { HF_CACHE, HOME, REPO } from "./testing/load-config-kit.js";

const GIB = 1024 ** 3;
const SIM = { HOME, ENGINE: "sim", DRIVER: "process" };

function file(doc: unknown): string {
  const dir = mkdtempSync(path.join(tmpdir(), "models-file-"));
  const p = path.join(dir, "models.json");
  writeFileSync(p, typeof doc === "string" ? doc : JSON.stringify(doc));
  return p;
}

const load = (doc: unknown, env: Record<string, string> = {}, hostRam = 512 * GIB) =>
  loadModelList(file(doc), { env: { ...SIM, ...env }, cwd: REPO }, hostRam);

const SWAP = {
  groups: { g: { gpus: "0", awake: 1 } },
  models: [
    { id: "alpha", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45" } },
    { id: "beta", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45", MAX_NUM_SEQS: "16" } },
    { id: "gamma", gpus: "1,2", env: { TENSOR_PARALLEL_SIZE: "2" } },
  ],
};

describe("the models file's shape", () => {
  it("lists every problem at once, each with where it is and what to write", () => {
    const problems = parseModels({
      extra: 1,
      groups: { "bad name!": { gpus: "", awake: 0, sleep_level: 3, colour: "red" } },
      models: [{ id: "", gpus: "0", group: "g" }, { id: "x" }, "y", { id: "z", gpus: "1", env: { A: {} } }],
    });
    expect(Array.isArray(problems)).toBe(true);
    const where = (problems as Array<{ where: string }>).map((p) => p.where);
    expect(where).toEqual([
      "extra",
      "groups.bad name!",
      "groups.bad name!.colour",
      "groups.bad name!.gpus",
      "groups.bad name!.awake",
      "groups.bad name!.sleep_level",
      "models[0].id",
      "models[0]",
      "models[1]",
      "models[2]",
      "models[3].env.A",
    ]);
  });

  it("an unreadable or non-JSON file is one problem naming the file", async () => {
    const missing = await loadModelList("/nonexistent/models.json", { env: SIM, cwd: REPO });
    expect(missing.issues[0]?.message).toMatch(/cannot be read \(ENOENT\)\. Check LLM_RUNNER_MODELS_FILE/);
    const broken = await load("{not json");
    expect(broken.issues[0]?.message).toMatch(/is not JSON/);
  });
});

describe("each model's configuration", () => {
  it("is the runner's with the entry's engine settings on top, GPUs from its group, engine ports one after another", async () => {
    const { models, issues } = await load(SWAP, { ENGINE_PORT: "9100", MAX_NUM_SEQS: "64", AUTH_TOKEN: "t" });
    expect(issues).toEqual([]);
    expect(models.map((m) => [m.id, m.config.gpuIds, m.config.enginePort, m.config.maxNumSeqs])).toEqual([
      ["alpha", [0], 9100, 64],
      ["beta", [0], 9101, 16],
      ["gamma", [1, 2], 9102, 64],
    ]);
    expect(models.map((m) => m.placement)).toEqual([
      { kind: "swap", group: "g", awake: 1, sleepLevel: 1 },
      { kind: "swap", group: "g", awake: 1, sleepLevel: 1 },
      { kind: "dedicated" },
    ]);
    // A swap group's engines run with vLLM's sleep mode; a dedicated one's do not.
    expect(models.map((m) => m.config.sleepMode === true)).toEqual([true, true, false]);
    expect(models.every((m) => m.config.authToken === "t")).toBe(true);
  });

  it("refuses runner-wide variables in an entry, and an entry's bad values, naming the model", async () => {
    const { issues } = await load({
      models: [{ id: "alpha", gpus: "0", env: { PORT: "9", AUTH_TOKEN: "x", MAX_NUM_SEQS: "lots" } }],
    });
    expect(issues.map((i) => i.variable)).toEqual([
      "models[0] alpha: PORT",
      "models[0] alpha: AUTH_TOKEN",
      "models[0] alpha: MAX_NUM_SEQS",
    ]);
    expect(issues[0]?.message).toMatch(/set it for the whole runner instead/);
  });
});

describe("the rules between models", () => {
  it("an id twice, a group nobody uses, an unknown group, GPUs shared outside a group: all reported", async () => {
    const { issues } = await load({
      groups: { g: { gpus: "0,1", awake: 1 }, idle: { gpus: "5" } },
      models: [
        { id: "alpha", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45" } },
        { id: "beta", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45" } },
        { id: "alpha", gpus: "1" },
        { id: "delta", group: "nope" },
      ],
    });
    const text = issues.map((i) => `${i.variable}: ${i.message}`);
    expect(text.some((t) => /models\[3\] delta: group: names no group/.test(t))).toBe(true);
    expect(text.some((t) => /models\[2\] alpha: is listed twice \(also models\[0\]\)/.test(t))).toBe(true);
    expect(text.some((t) => /group g: shares GPU 1 with models alpha/.test(t))).toBe(true);
    expect(text.some((t) => /groups\.idle: has no model/.test(t))).toBe(true);
  });

  it("a group whose awake models and sleepers do not fit its GPUs says by how much and what to set", async () => {
    const { issues } = await load({
      groups: { g: { gpus: "0", awake: 2 } },
      models: [
        { id: "a", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.5" } },
        { id: "b", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45" } },
        { id: "c", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.4" } },
      ],
    });
    // 0.5 + 0.45 awake (the two largest) + 0.05 for the sleeper = 1.00: fits exactly; one more sleeper does not.
    expect(issues).toEqual([]);
    const over = await load({
      groups: { g: { gpus: "0", awake: 2 } },
      models: [
        { id: "a", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.5" } },
        { id: "b", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45" } },
        { id: "c", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.4" } },
        { id: "d", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.4" } },
      ],
    });
    expect(over.issues.map((i) => i.message)).toEqual([
      expect.stringMatching(
        /does not fit its GPUs: .*0\.5 \+ 0\.45.*1\.05 > 1\. Lower the models' GPU_MEMORY_UTILIZATION/,
      ),
    ]);
  });

  it("more awake than members is refused", async () => {
    const { issues } = await load({
      groups: { g: { gpus: "0", awake: 3 } },
      models: [
        { id: "a", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.3" } },
        { id: "b", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.3" } },
      ],
    });
    expect(issues.map((i) => i.variable)).toContain("LLM_RUNNER_MODELS_FILE groups.g.awake");
  });

  it("says when level-1 sleepers' weights would not fit in host RAM (and that those sleep at level 2)", async () => {
    const llama = path.join(HF_CACHE); // the 8B's config.json: about 15 GiB of bf16 weights
    const doc = {
      groups: { g: { gpus: "0", awake: 1 } },
      models: [
        { id: "meta-llama/Meta-Llama-3.1-8B-Instruct", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45" } },
        { id: "meta-llama/Meta-Llama-3.1-70B-Instruct", group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45" } },
      ],
    };
    const small = await load(doc, { MODEL_DIR: llama }, 64 * GIB);
    expect(small.issues).toEqual([]);
    expect(small.warnings.join("\n")).toMatch(
      /level-1 sleeping models may hold 13\d\.\d GiB .* sleep at level 2/,
    );
    const big = await load(doc, { MODEL_DIR: llama }, 1024 * GIB);
    expect(big.warnings.join("\n")).not.toMatch(/level-1 sleeping models may hold/);
  });
});

describe("loadConfigFrom with LLM_RUNNER_MODELS_FILE", () => {
  it("gives the first model's config with every entry attached, and warns about a runner-wide problem once", async () => {
    const r = await loadConfigFrom({
      env: { ...SIM, LLM_RUNNER_MODELS_FILE: file(SWAP), MODEL_ID: "ignored" },
      overrides: {},
      envFile: null,
      cwd: REPO,
    });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.config.modelId).toBe("alpha");
    expect(r.config.modelsFile).toMatch(/models\.json$/);
    expect(r.config.models?.map((m) => m.id)).toEqual(["alpha", "beta", "gamma"]);
    expect(r.warnings.filter((w) => /AUTH_TOKEN is not set/.test(w))).toHaveLength(1);
    expect(r.warnings.some((w) => /MODEL_ID is ignored/.test(w))).toBe(true);
  });

  it("without it, the single-model variables are a one-entry list", async () => {
    const r = await loadConfigFrom({
      env: { ...SIM, MODEL_ID: "solo" },
      overrides: {},
      envFile: null,
      cwd: REPO,
    });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.config.models?.map((m) => [m.id, m.placement.kind])).toEqual([["solo", "dedicated"]]);
  });
});
