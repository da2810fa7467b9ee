// `llm-runner reload` / SIGHUP: the config read again from its sources (config-source.ts), checked in full, then
// the replicas rolled one at a time (ReplicaSet.replace: unroute, drain, restart, wait until ready). An invalid
// config, or a change a reload cannot make (the gateway's own settings), changes nothing and says why.
import { type ConfigSource, loadConfigFrom } from "../config/config-source.js";
import { formatGpuIds, type ReplicaSlot, replicaSlotsOf } from "../config/replica-plan.js";
import type { Config, ConfigIssue } from "../config/types.js";
import type { Logger } from "../log/logger.js";
import type { ReplicaSet } from "../supervisor/replica-set.js";
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
  const fixed = FIXED.filter(([key]) => !same(current[key], next[key])).map(([key, name]) => ({
    variable: name,
    value: String(next[key] ?? ""),
    message: `changed (was ${String(current[key] ?? "unset")}): a reload restarts the engines only. Stop and start the runner to change ${name}.`,
  }));
  if (fixed.length) return { outcome: invalid(fixed), config: current };

  const engineChanged = !same(engineSettings(current), engineSettings(next));
  const oldSlots = new Map(replicaSlotsOf(current).map((s) => [s.index, s]));
  const newSlots = replicaSlotsOf(next);
  const roll = newSlots.filter(
    (s) => oldSlots.has(s.index) && (engineChanged || !sameSlot(oldSlots.get(s.index), s)),
  );
  const add = newSlots.filter((s) => !oldSlots.has(s.index));
  const remove = [...oldSlots.keys()].filter((i) => !newSlots.some((s) => s.index === i));
  if (roll.length + add.length + remove.length === 0) {
    return {
      outcome: { state: "unchanged", message: "the configuration is unchanged: nothing restarted" },
      config: current,
    };
  }

  const readyTimeoutMs = next.engineStallTimeoutMs + 60_000;
  const restarted: number[] = [];
  try {
    for (const slot of roll) {
      deps.logger.info(
        { replica: slot.index, gpus: formatGpuIds(slot.gpuIds) },
        "reload: restarting replica",
      );
      const generation = deps.replicas.member(slot.index)?.supervisor.snapshot().generation ?? 0;
      await deps.replicas.replace(await deps.makeReplica(next, slot, generation), readyTimeoutMs);
      restarted.push(slot.index);
    }
    for (const slot of add) {
      deps.logger.info({ replica: slot.index, gpus: formatGpuIds(slot.gpuIds) }, "reload: adding replica");
      await deps.replicas.add(await deps.makeReplica(next, slot), readyTimeoutMs);
    }
    for (const index of remove.reverse()) {
      deps.logger.info({ replica: index }, "reload: removing replica");
      await deps.replicas.remove(index);
    }
  } catch (err) {
    const message = `reload stopped: ${(err as Error).message}. Replicas ${restarted.join(", ") || "none"} run the new config; the others the old one.`;
    deps.logger.error({ restarted }, message);
    return { outcome: { state: "failed", restarted, message }, config: next };
  }
  const message = `reloaded: ${[
    restarted.length ? `restarted replica${restarted.length === 1 ? "" : "s"} ${restarted.join(", ")}` : "",
    add.length ? `added ${add.map((s) => s.index).join(", ")}` : "",
    remove.length ? `removed ${remove.join(", ")}` : "",
  ]
    .filter(Boolean)
    .join("; ")}`;
  deps.logger.info({ restarted }, message);
  return {
    outcome: { state: "done", restarted, added: add.map((s) => s.index), removed: remove, message },
    config: next,
  };
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
  const { replicaSlots: _slots, gpuIds: _gpus, enginePort: _port, ...rest } = config;
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
