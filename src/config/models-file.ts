// LLM_RUNNER_MODELS_FILE: the models one runner serves, each with its own engine settings and placement
// (README "Several models"). JSON, read once at start (and again by `reload`):
//   {"groups": {"small": {"gpus": "2", "awake": 1, "sleep_level": 1}},
//    "models": [{"id": "meta-llama/Meta-Llama-3.1-8B-Instruct", "gpus": "0,1", "env": {"REPLICAS": "2"}},
//               {"id": "Qwen/Qwen2.5-7B-Instruct", "group": "small", "env": {"GPU_MEMORY_UTILIZATION": "0.45"}},
//               {"id": "mistralai/Mistral-7B-Instruct-v0.3", "group": "small"}]}
import { readFileSync } from "node:fs";
import path from "node:path";

export interface RawGroup {
  gpus: string;
  /** Models of the group awake at once. */
  awake: number;
  /** vLLM's sleep level for the others: 1 keeps the weights in host RAM, 2 discards them. */
  sleepLevel: 1 | 2;
}

export interface RawModel {
  id: string;
  /** A dedicated model's GPUs (GPU_IDS); absent with `group`. */
  gpus: string | null;
  group: string | null;
  /** Engine settings of this model, as environment variables (README "Several models" lists which). */
  env: Record<string, string>;
}

export interface RawModels {
  groups: Map<string, RawGroup>;
  models: RawModel[];
}

/** One problem in the file: where (a JSON path) and what to do. */
export interface ModelsFileProblem {
  where: string;
  message: string;
}

/** Reads and checks the file's shape; every problem is reported, not only the first. */
export function readModelsFile(file: string, cwd: string): RawModels | ModelsFileProblem[] {
  const full = path.resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(full, "utf8");
  } catch (err) {
    return [
      {
        where: full,
        message: `cannot be read (${(err as NodeJS.ErrnoException).code ?? err}). Check LLM_RUNNER_MODELS_FILE.`,
      },
    ];
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return [
      { where: full, message: `is not JSON (${(err as Error).message}). See README "Several models".` },
    ];
  }
  return parseModels(doc);
}

const GROUP_NAME = /^[A-Za-z0-9][\w.-]{0,63}$/;

export function parseModels(doc: unknown): RawModels | ModelsFileProblem[] {
  const problems: ModelsFileProblem[] = [];
  const out: RawModels = { groups: new Map(), models: [] };
  if (!isObject(doc))
    return [{ where: "(top)", message: 'must be an object: {"models": [...], "groups": {...}}' }];
  for (const key of Object.keys(doc)) {
    if (key !== "models" && key !== "groups")
      problems.push({ where: key, message: 'is not a key of the models file (only "models" and "groups")' });
  }
  if (doc.groups !== undefined) {
    if (!isObject(doc.groups))
      problems.push({ where: "groups", message: "must be an object of named groups" });
    else
      for (const [name, g] of Object.entries(doc.groups)) {
        const where = `groups.${name}`;
        if (!GROUP_NAME.test(name))
          problems.push({ where, message: "a group name is letters, digits, '.', '_', '-'" });
        const group = parseGroup(g, where, problems);
        if (group) out.groups.set(name, group);
      }
  }
  if (!Array.isArray(doc.models) || doc.models.length === 0) {
    problems.push({ where: "models", message: "must be a non-empty list of models" });
  } else {
    doc.models.forEach((m, i) => {
      const model = parseModel(m, `models[${i}]`, problems);
      if (model) out.models.push(model);
    });
  }
  return problems.length > 0 ? problems : out;
}

function parseGroup(g: unknown, where: string, problems: ModelsFileProblem[]): RawGroup | null {
  if (!isObject(g)) {
    problems.push({ where, message: 'must be an object: {"gpus": "2,3", "awake": 1, "sleep_level": 1}' });
    return null;
  }
  const before = problems.length;
  for (const key of Object.keys(g))
    if (!["gpus", "awake", "sleep_level"].includes(key))
      problems.push({
        where: `${where}.${key}`,
        message: "is not a group setting (gpus, awake, sleep_level)",
      });
  if (typeof g.gpus !== "string" || g.gpus.trim() === "")
    problems.push({
      where: `${where}.gpus`,
      message: 'must be the group\'s GPUs as GPU_IDS takes them, e.g. "2,3"',
    });
  const awake = g.awake ?? 1;
  if (typeof awake !== "number" || !Number.isInteger(awake) || awake < 1)
    problems.push({
      where: `${where}.awake`,
      message: "must be a whole number ≥ 1: how many of the group's models are awake at once",
    });
  const level = g.sleep_level ?? 1;
  if (level !== 1 && level !== 2)
    problems.push({
      where: `${where}.sleep_level`,
      message: "must be 1 (weights kept in host RAM) or 2 (weights discarded)",
    });
  if (problems.length > before) return null;
  return { gpus: g.gpus as string, awake: awake as number, sleepLevel: level as 1 | 2 };
}

function parseModel(m: unknown, where: string, problems: ModelsFileProblem[]): RawModel | null {
  if (!isObject(m)) {
    problems.push({
      where,
      message: 'must be an object: {"id": "org/model", "gpus": "0"} or {"id": ..., "group": "name"}',
    });
    return null;
  }
  const before = problems.length;
  for (const key of Object.keys(m))
    if (!["id", "gpus", "group", "env"].includes(key))
      problems.push({ where: `${where}.${key}`, message: "is not a model setting (id, gpus, group, env)" });
  if (typeof m.id !== "string" || m.id.trim() === "")
    problems.push({
      where: `${where}.id`,
      message: 'must be the model\'s id, as MODEL_ID takes it, e.g. "meta-llama/Meta-Llama-3.1-8B-Instruct"',
    });
  const gpus = m.gpus ?? null;
  const group = m.group ?? null;
  if (gpus !== null && (typeof gpus !== "string" || gpus.trim() === ""))
    problems.push({
      where: `${where}.gpus`,
      message: 'must be the model\'s GPUs as GPU_IDS takes them, e.g. "0,1"',
    });
  if (group !== null && typeof group !== "string")
    problems.push({ where: `${where}.group`, message: 'must be the name of a group under "groups"' });
  if (gpus !== null && group !== null)
    problems.push({ where, message: 'has both "gpus" (dedicated) and "group" (swapped): keep one' });
  if (gpus === null && group === null)
    problems.push({
      where,
      message: 'needs "gpus" (its own GPUs, always awake) or "group" (GPUs shared with other models)',
    });
  const env: Record<string, string> = {};
  if (m.env !== undefined) {
    if (!isObject(m.env)) problems.push({ where: `${where}.env`, message: "must be an object of variables" });
    else
      for (const [k, v] of Object.entries(m.env)) {
        if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean")
          problems.push({ where: `${where}.env.${k}`, message: "must be a string (or a number)" });
        else env[k] = String(v);
      }
  }
  if (problems.length > before) return null;
  return { id: (m.id as string).trim(), gpus: gpus as string | null, group: group as string | null, env };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
