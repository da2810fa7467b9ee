// The models a runner serves (LLM_RUNNER_MODELS_FILE): each entry is the runner's configuration with that model's
// engine settings on top, checked by the same rules as one model, then the rules between models: ids once, GPUs
// not shared outside a swap group, a swap group's awake models fitting its GPUs together, and the host RAM its
// sleeping models hold (vLLM's level 1 keeps their weights there: docs/features/sleep_mode.md).
import { totalmem } from "node:os";
import path from "node:path";
import { type LoadConfigInput, type LoadConfigResult, loadConfig } from "./load-config.js";
import { locateModelConfig, readModelFacts } from "./model-info.js";
import { estimateWeights, GIB } from "./model-size.js";
import { type RawModels, readModelsFile } from "./models-file.js";
import type { Config, ConfigIssue, ModelEntry } from "./types.js";

/** What a model's entry may set: its engine, its price and its offer; the gateway's settings are the runner's. */
export const MODEL_VARIABLES: ReadonlySet<string> = new Set([
  "USE_8BIT",
  "PIPELINE_PARALLEL_SIZE",
  "TENSOR_PARALLEL_SIZE",
  "MAX_MODEL_LEN",
  "MAX_NUM_BATCHED_TOKENS",
  "MAX_NUM_SEQS",
  "GPU_MEMORY_UTILIZATION",
  "REPLICAS",
  "ENGINE_IMAGE",
  "ENGINE_STALL_TIMEOUT",
  "ENGINE_HANG_TIMEOUT",
  "ENGINE_CANARY_INTERVAL",
  "ENGINE_CANARY_TIMEOUT",
  "PRICE_PER_UNIT",
  "LIVE_RUNNER_PRICE_USD_PER_HOUR",
  "LIVE_RUNNER_APP",
  "ENABLE_PROMPT_TOKENS_DETAILS",
]);
const isModelVariable = (name: string) => MODEL_VARIABLES.has(name) || name.startsWith("SIM_");

// Two awake engines on one GPU each take their GPU_MEMORY_UTILIZATION of it; a sleeping one still holds its CUDA
// context and allocator pools (vLLM frees "up to 90%+" of its memory: docs/features/sleep_mode.md). Left free:
const SLEEPER_SHARE = 0.05;
// Level-1 sleepers' weights must fit here beside the runner, the engines' own processes and the page cache.
export const HOST_RAM_SHARE = 0.8;

export interface ModelListResult {
  models: ModelEntry[];
  issues: ConfigIssue[];
  warnings: string[];
}

/** The one-entry list of a runner configured by the single-model variables. */
export function singleModel(config: Config): ModelEntry[] {
  return [{ id: config.modelId, config, placement: { kind: "dedicated" } }];
}

/**
 * Loads every model of the models file on top of `input`'s environment. Issues name the entry and the variable
 * (`models[1] Qwen/Qwen2.5-7B-Instruct: MAX_NUM_SEQS`); all of them are reported at once.
 */
export async function loadModelList(
  file: string,
  input: LoadConfigInput,
  hostRamBytes = totalmem(),
): Promise<ModelListResult> {
  const cwd = input.cwd ?? process.cwd();
  const raw = readModelsFile(file, cwd);
  if (Array.isArray(raw)) {
    return {
      models: [],
      issues: raw.map((p) => ({
        variable: `LLM_RUNNER_MODELS_FILE ${p.where}`,
        value: undefined,
        message: p.message,
      })),
      warnings: [],
    };
  }
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const loaded: Array<{ at: number; result: LoadConfigResult }> = [];
  let nextPort = Number(input.env.ENGINE_PORT ?? 8100);
  for (const [at, m] of raw.models.entries()) {
    const name = `models[${at}] ${m.id}`;
    for (const key of Object.keys(m.env)) {
      if (!isModelVariable(key))
        issues.push({
          variable: `${name}: ${key}`,
          value: m.env[key],
          message: `is not a setting of one model (its engine, price and offer are: ${[...MODEL_VARIABLES].join(", ")}, SIM_*); set it for the whole runner instead.`,
        });
    }
    const group = m.group === null ? null : raw.groups.get(m.group);
    if (m.group !== null && !group) {
      issues.push({
        variable: `${name}: group`,
        value: m.group,
        message: `names no group: define it under "groups" (${[...raw.groups.keys()].join(", ") || "none defined"}).`,
      });
      continue;
    }
    const env: NodeJS.ProcessEnv = {
      ...input.env,
      ...Object.fromEntries(Object.entries(m.env).filter(([k]) => isModelVariable(k))),
      MODEL_ID: m.id,
      GPU_IDS: group ? group.gpus : (m.gpus as string),
      ENGINE_PORT: nextPort === 0 ? "0" : String(nextPort),
    };
    delete env.LLM_RUNNER_MODELS_FILE;
    // Flags name the runner's settings; a model's own come from its entry.
    const overrides = Object.fromEntries(
      Object.entries(input.overrides ?? {}).filter(
        ([k]) => !isModelVariable(k) && k !== "MODEL_ID" && k !== "GPU_IDS",
      ),
    );
    const result = await loadConfig({ ...input, env, overrides });
    loaded.push({ at, result });
    if (!result.ok)
      for (const issue of result.issues) issues.push({ ...issue, variable: `${name}: ${issue.variable}` });
    for (const w of result.warnings) warnings.push(`${name}: ${w}`);
    if (result.ok && nextPort !== 0) nextPort += result.config.replicaSlots?.length ?? 1;
  }
  const models: ModelEntry[] = [];
  for (const { at, result } of loaded) {
    if (!result.ok) continue;
    const m = raw.models[at] as RawModels["models"][number];
    const group = m.group === null ? undefined : raw.groups.get(m.group);
    models.push({
      id: m.id,
      config: group ? { ...result.config, sleepMode: true } : result.config,
      placement: group
        ? { kind: "swap", group: m.group as string, awake: group.awake, sleepLevel: group.sleepLevel }
        : { kind: "dedicated" },
    });
  }
  issues.push(...betweenModels(raw, models));
  if (issues.length === 0) warnings.push(...hostRamNotes(models, hostRamBytes));
  return { models, issues, warnings };
}

function betweenModels(raw: RawModels, models: ModelEntry[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, number>();
  raw.models.forEach((m, i) => {
    const first = seen.get(m.id);
    if (first !== undefined)
      issues.push({
        variable: `models[${i}] ${m.id}`,
        value: m.id,
        message: `is listed twice (also models[${first}]): requests name a model by its id, so each id is one entry. Use REPLICAS for more engines of it.`,
      });
    else seen.set(m.id, i);
  });
  // GPUs: each dedicated model's and each group's, disjoint (an "all" takes every GPU).
  const owners: Array<{ who: string; gpus: "all" | number[] }> = [];
  for (const m of models)
    if (m.placement.kind === "dedicated") owners.push({ who: `models ${m.id}`, gpus: m.config.gpuIds });
  for (const name of raw.groups.keys()) {
    const member = models.find((m) => m.placement.kind === "swap" && m.placement.group === name);
    if (member) owners.push({ who: `group ${name}`, gpus: member.config.gpuIds });
  }
  for (let a = 0; a < owners.length; a++)
    for (let b = a + 1; b < owners.length; b++) {
      const x = owners[a] as (typeof owners)[number];
      const y = owners[b] as (typeof owners)[number];
      const shared =
        x.gpus === "all" || y.gpus === "all"
          ? ["all"]
          : x.gpus.filter((id) => (y.gpus as number[]).includes(id));
      if (shared.length > 0)
        issues.push({
          variable: `LLM_RUNNER_MODELS_FILE ${y.who}`,
          value: undefined,
          message: `shares GPU ${shared.join(",")} with ${x.who}: only the models of one swap group share GPUs (dedicated models and groups each need their own; "all" takes every GPU).`,
        });
    }
  for (const [name, g] of raw.groups) {
    const members = models.filter((m) => m.placement.kind === "swap" && m.placement.group === name);
    if (members.length === 0) {
      issues.push({
        variable: `LLM_RUNNER_MODELS_FILE groups.${name}`,
        value: undefined,
        message: 'has no model: name it in a model\'s "group", or remove it.',
      });
      continue;
    }
    const listed = raw.models.filter((m) => m.group === name).length;
    if (g.awake > listed)
      issues.push({
        variable: `LLM_RUNNER_MODELS_FILE groups.${name}.awake`,
        value: String(g.awake),
        message: `is more than the group's ${listed} model(s): lower "awake" (with all of them awake nothing sleeps).`,
      });
    const shares = members.map((m) => m.config.gpuMemoryUtilization).sort((p, q) => q - p);
    const awakeShare = shares.slice(0, g.awake).reduce((s, x) => s + x, 0);
    const need = awakeShare + SLEEPER_SHARE * (members.length - Math.min(g.awake, members.length));
    if (need > 1)
      issues.push({
        variable: `LLM_RUNNER_MODELS_FILE groups.${name}`,
        value: undefined,
        message: `does not fit its GPUs: ${g.awake} awake model(s) take GPU_MEMORY_UTILIZATION ${shares.slice(0, g.awake).join(" + ")} of each GPU, and each sleeping one still holds about ${SLEEPER_SHARE * 100}% (its CUDA context): ${need.toFixed(2)} > 1. Lower the models' GPU_MEMORY_UTILIZATION (e.g. ${(0.95 / g.awake - SLEEPER_SHARE).toFixed(2)} each) or "awake".`,
      });
  }
  return issues;
}

/** Level-1 sleepers keep their weights in host RAM: say when they cannot all fit, and what happens then. */
function hostRamNotes(models: ModelEntry[], hostRamBytes: number): string[] {
  const notes: string[] = [];
  const groups = new Map<string, ModelEntry[]>();
  for (const m of models) {
    if (m.placement.kind !== "swap" || m.placement.sleepLevel !== 1) continue;
    groups.set(m.placement.group, [...(groups.get(m.placement.group) ?? []), m]);
  }
  let held = 0;
  const unknown: string[] = [];
  for (const members of groups.values()) {
    const awake = members[0]?.placement.kind === "swap" ? members[0].placement.awake : 1;
    const sizes = members.map((m) => weightsBytes(m));
    if (sizes.some((s) => s === null))
      unknown.push(...members.filter((_, i) => sizes[i] === null).map((m) => m.id));
    const known = (sizes.filter((s) => s !== null) as number[]).sort((a, b) => b - a);
    held += known.slice(0, Math.max(0, members.length - awake)).reduce((s, x) => s + x, 0);
  }
  const budget = hostRamBytes * HOST_RAM_SHARE;
  if (held > budget)
    notes.push(
      `level-1 sleeping models may hold ${(held / GIB).toFixed(1)} GiB of weights in host RAM, more than ${HOST_RAM_SHARE * 100}% of this machine's ${(hostRamBytes / GIB).toFixed(1)} GiB: those that do not fit sleep at level 2 (weights discarded, read again from disk on waking). Set "sleep_level": 2 in the group to make that the rule.`,
    );
  if (unknown.length > 0)
    notes.push(
      `the weights of ${unknown.join(", ")} are not known (no config.json in the model cache yet): the host RAM its level-1 sleep holds is checked when it falls asleep.`,
    );
  return notes;
}

/** The model's weight bytes from its config.json in the cache, or null when not downloaded. */
export function weightsBytes(m: ModelEntry): number | null {
  const c = m.config;
  const cacheDirs = [c.modelDir, path.join(process.env.HOME ?? "/", ".cache", "huggingface", "hub")].filter(
    (d): d is string => typeof d === "string",
  );
  const located = locateModelConfig({ modelId: c.modelId, cacheDirs });
  if (!located.found) return null;
  try {
    return estimateWeights(readModelFacts(located.configPath), c.use8bit)?.bytes ?? null;
  } catch {
    return null;
  }
}
