// `llm-runner reload` / SIGHUP: the config read again from its sources (config-source.ts), checked in full, then
// the replicas rolled one at a time (ReplicaSet.replace: unroute, drain, restart, wait until ready). An invalid
// config, or a change a reload cannot make (the gateway's own settings), changes nothing and says why.
import { type ConfigSource, loadConfigFrom } from "../config/config-source.js";
import { formatGpuIds, type ReplicaSlot, replicaSlotsOf } from "../config/replica-plan.js";
import type { Config, ConfigIssue, ModelEntry } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import type { ReplicaSet } from "../supervisor/replica-set.js";
import type { ModelEngines } from "./model-engines.js";
import type { ReplicaFactory } from "./replica-factory.js";

export type ReloadOutcome =
  | { state: "invalid"; issues: ConfigIssue[]; message: string }
  | { state: "unchanged"; message: string }
  | { state: "done"; restarted: number[]; added: number[]; removed: number[]; message: string }
  | { state: "failed"; restarted: number[]; message: string };

// What the gateway was built with: a reload cannot change these (stop and start the runner instead).
const FIXED: ReadonlyArray<[keyof Config, string]> = [
  ["modelId", "MODEL_ID"],
  ["engine", "ENGINE"],
  ["driver", "DRIVER"],
  ["host", "HOST"],
  ["port", "PORT"],
  ["authToken", "AUTH_TOKEN"],
  ["queueSize", "QUEUE_SIZE"],
  ["maxBodyBytes", "MAX_BODY_BYTES"],
  ["runnerVersion", "RUNNER_VERSION"],
  ["corsOrigins", "CORS_ORIGINS"],
  ["pricePerUnit", "PRICE_PER_UNIT"],
  ["pixelsPerUnit", "PIXELS_PER_UNIT"],
  ["currency", "CURRENCY"],
  ["home", "LLM_RUNNER_HOME"],
  ["logLevel", "LOG_LEVEL"],
  ["hfEndpoint", "HF_ENDPOINT"],
  ["liveRunner", "LIVE_RUNNER_*"],
  ["router", "ROUTER"],
];

export interface ReloadDeps {
  source: ConfigSource;
  replicas: ReplicaSet;
  makeReplica: ReplicaFactory;
  logger: Logger;
}

/** Reloads once; `current` is the config the replicas run now, and is replaced by the new one as it is rolled. */
export async function reloadReplicas(
  deps: ReloadDeps,
  current: Config,
): Promise<{ outcome: ReloadOutcome; config: Config }> {
  const loaded = await loadConfigFrom(deps.source);
  if (!loaded.ok) {
    return { outcome: invalid(loaded.issues), config: current };
  }
  const next: Config = { ...loaded.config, ...(current.hubOffline ? { hubOffline: true } : {}) };
  const fixed = fixedChanges(current, next);
  if (fixed.length) return { outcome: invalid(fixed), config: current };

  const plan = rollPlan(current, next);
  if (plan.roll.length + plan.add.length + plan.remove.length === 0) {
    return {
      outcome: { state: "unchanged", message: "the configuration is unchanged: nothing restarted" },
      config: current,
    };
  }
  const rolled = await roll(deps.replicas, deps.makeReplica, next, plan, deps.logger);
  if (rolled.error !== null) {
    const message = `reload stopped: ${rolled.error}. Replicas ${rolled.restarted.join(", ") || "none"} run the new config; the others the old one.`;
    deps.logger.error({ restarted: rolled.restarted }, message);
    return { outcome: { state: "failed", restarted: rolled.restarted, message }, config: next };
  }
  const message = `reloaded: ${planWords(rolled.restarted, plan)}`;
  deps.logger.info({ restarted: rolled.restarted }, message);
  return {
    outcome: {
      state: "done",
      restarted: rolled.restarted,
      added: plan.add.map((s) => s.index),
      removed: plan.remove,
      message,
    },
    config: next,
  };
}

export interface ModelReloadDeps {
  source: ConfigSource;
  models: ModelEngines[];
  /** Runs a model's roll with room made on its swap group's GPUs (its new engines load awake). */
  modelSet: { withRoom(id: string, fn: () => Promise<void>): Promise<void> };
  logger: Logger;
}

/**
 * Several models (LLM_RUNNER_MODELS_FILE): each model whose settings changed is rolled as one model's replicas
 * are; the others are not touched. The list of models and their placement are fixed: a stop and start changes
 * them.
 */
export async function reloadModels(
  deps: ModelReloadDeps,
  current: Config,
): Promise<{ outcome: ReloadOutcome; config: Config }> {
  const loaded = await loadConfigFrom(deps.source);
  if (!loaded.ok) return { outcome: invalid(loaded.issues), config: current };
  const next: Config = loaded.config;
  const issues = fixedChanges(current, next);
  const before = deps.models.map((m) => `${m.id} ${JSON.stringify(m.entry.placement)}`);
  const after = (next.models ?? []).map((m) => `${m.id} ${JSON.stringify(m.placement)}`);
  if (JSON.stringify(before) !== JSON.stringify(after))
    issues.push({
      variable: "LLM_RUNNER_MODELS_FILE",
      value: next.modelsFile ?? undefined,
      message: `changed its models or their placement (was ${before.join("; ")}; now ${after.join("; ")}): a reload restarts the engines of the models listed at start only. Stop and start the runner to change the list.`,
    });
  for (const [k, m] of deps.models.entries()) {
    const entry = next.models?.[k];
    if (!entry) continue;
    for (const issue of fixedChanges(m.entry.config, entry.config))
      issues.push({ ...issue, variable: `${m.id}: ${issue.variable}` });
  }
  if (issues.length) return { outcome: invalid(issues), config: current };

  const done: string[] = [];
  for (const [k, m] of deps.models.entries()) {
    const entry = next.models?.[k] as ModelEntry;
    const nextConfig: Config = {
      ...entry.config,
      ...(m.entry.config.hubOffline ? { hubOffline: true } : {}),
    };
    const plan = rollPlan(m.entry.config, nextConfig);
    if (plan.roll.length + plan.add.length + plan.remove.length === 0) continue;
    deps.logger.info({ model: m.id }, `reload: ${m.id} changed`);
    let rolled: Rolled = { restarted: [], error: null };
    await deps.modelSet.withRoom(m.id, async () => {
      rolled = await roll(m.replicas, m.makeReplica, nextConfig, plan, deps.logger);
    });
    m.entry = { ...m.entry, config: nextConfig };
    if (rolled.error !== null) {
      const message = `reload stopped at ${m.id}: ${rolled.error}. ${[...done, `${m.id}: replicas ${rolled.restarted.join(", ") || "none"} run the new config`].join("; ")}; the other models are untouched.`;
      deps.logger.error({ model: m.id }, message);
      return { outcome: { state: "failed", restarted: rolled.restarted, message }, config: next };
    }
    done.push(`${m.id}: ${planWords(rolled.restarted, plan)}`);
  }
  if (done.length === 0)
    return {
      outcome: { state: "unchanged", message: "the configuration is unchanged: nothing restarted" },
      config: current,
    };
  const message = `reloaded ${done.join("; ")} (the other models untouched)`;
  deps.logger.info({}, message);
  return { outcome: { state: "done", restarted: [], added: [], removed: [], message }, config: next };
}

/** What a reload cannot change (the gateway was built with it), each with its fix. */
function fixedChanges(current: Config, next: Config): ConfigIssue[] {
  return FIXED.filter(([key]) => !same(current[key], next[key])).map(([key, name]) => ({
    variable: name,
    value: String(next[key] ?? ""),
    message: `changed (was ${String(current[key] ?? "unset")}): a reload restarts the engines only. Stop and start the runner to change ${name}.`,
  }));
}

interface RollPlan {
  roll: ReplicaSlot[];
  add: ReplicaSlot[];
  remove: number[];
}

function rollPlan(current: Config, next: Config): RollPlan {
  const engineChanged = !same(engineSettings(current), engineSettings(next));
  const oldSlots = new Map(replicaSlotsOf(current).map((s) => [s.index, s]));
  const newSlots = replicaSlotsOf(next);
  return {
    roll: newSlots.filter(
      (s) => oldSlots.has(s.index) && (engineChanged || !sameSlot(oldSlots.get(s.index), s)),
    ),
    add: newSlots.filter((s) => !oldSlots.has(s.index)),
    remove: [...oldSlots.keys()].filter((i) => !newSlots.some((s) => s.index === i)),
  };
}

interface Rolled {
  restarted: number[];
  /** Why the roll stopped, or null when it is done. */
  error: string | null;
}

/** Rolls, adds and removes replicas one at a time, each waited for until ready. */
async function roll(
  replicas: ReplicaSet,
  makeReplica: ReplicaFactory,
  next: Config,
  plan: RollPlan,
  logger: Logger,
): Promise<Rolled> {
  const readyTimeoutMs = next.engineStallTimeoutMs + 60_000;
  const restarted: number[] = [];
  try {
    for (const slot of plan.roll) {
      logger.info({ replica: slot.index, gpus: formatGpuIds(slot.gpuIds) }, "reload: restarting replica");
      const generation = replicas.member(slot.index)?.supervisor.snapshot().generation ?? 0;
      await replicas.replace(await makeReplica(next, slot, generation), readyTimeoutMs);
      restarted.push(slot.index);
    }
    for (const slot of plan.add) {
      logger.info({ replica: slot.index, gpus: formatGpuIds(slot.gpuIds) }, "reload: adding replica");
      await replicas.add(await makeReplica(next, slot), readyTimeoutMs);
    }
    for (const index of [...plan.remove].reverse()) {
      logger.info({ replica: index }, "reload: removing replica");
      await replicas.remove(index);
    }
  } catch (err) {
    return { restarted, error: (err as Error).message };
  }
  return { restarted, error: null };
}

function planWords(restarted: number[], plan: RollPlan): string {
  return [
    restarted.length ? `restarted replica${restarted.length === 1 ? "" : "s"} ${restarted.join(", ")}` : "",
    plan.add.length ? `added ${plan.add.map((s) => s.index).join(", ")}` : "",
    plan.remove.length ? `removed ${plan.remove.join(", ")}` : "",
  ]
    .filter(Boolean)
    .join("; ");
}

function invalid(issues: ConfigIssue[]): ReloadOutcome {
  return {
    state: "invalid",
    issues,
    message: `the new configuration is invalid (${issues.map((i) => i.variable).join(", ")}): nothing changed`,
  };
}

/** Everything an engine is started from, besides its slot (GPUs and port). */
function engineSettings(config: Config): unknown {
  // `models` lists the entries (each holding a config; with one model, this one): compared entry by entry instead.
  const { replicaSlots: _slots, gpuIds: _gpus, enginePort: _port, models: _models, ...rest } = config;
  return rest;
}

function sameSlot(a: ReplicaSlot | undefined, b: ReplicaSlot): boolean {
  return (
    a !== undefined && a.enginePort === b.enginePort && formatGpuIds(a.gpuIds) === formatGpuIds(b.gpuIds)
  );
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
