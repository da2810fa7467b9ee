// The runner's engines: one model's replicas (MODEL_ID), or several models' (LLM_RUNNER_MODELS_FILE), each its own
// ReplicaSet with its own engine ids and log files, behind one ModelSet that wakes and puts to sleep the models of
// swap groups (supervisor/model-set.ts).
import { totalmem } from "node:os";
import { HOST_RAM_SHARE, singleModel, weightsBytes } from "../config/model-list.js";
import { replicaSlotsOf } from "../config/replica-plan.js";
import type { Config, ModelEntry } from "../config/types.js";
import type { EngineDriver } from "../engine/engine-driver.js";
import type { Logger } from "../log/logger.js";
import { systemClock } from "../supervisor/clock.js";
import { sweepOrphans } from "../supervisor/engine-output.js";
import { ModelSet } from "../supervisor/model-set.js";
import { type Replica, ReplicaSet, type RunnerEngines } from "../supervisor/replica-set.js";
import { EngineLogs, modelEngineLog } from "./engine-logs.js";
import { type ReplicaFactory, replicaFactory } from "./replica-factory.js";

/** One model's engines and what a reload needs to rebuild them. */
export interface ModelEngines {
  id: string;
  entry: ModelEntry;
  replicas: ReplicaSet;
  makeReplica: ReplicaFactory;
}

export interface RunnerEngineParts {
  engines: RunnerEngines;
  /** Several models: the set (its gates route the gateway's requests); null with one model. */
  modelSet: ModelSet | null;
  models: ModelEngines[];
  /** Flushes and closes the engine log files. */
  endLogs(): Promise<void>;
}

export interface BuildEnginesOptions {
  instanceId: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** engine.log: the default model's; model k > 0 writes engine-m<k>.log (replica N: engine-m<k>-N.log). */
  engineLog: string;
}

export async function buildEngines(config: Config, options: BuildEnginesOptions): Promise<RunnerEngineParts> {
  const several = Boolean(config.modelsFile);
  const entries = config.models ?? singleModel(config);
  const logs: EngineLogs[] = [];
  const endLogs = async () => {
    await Promise.all(logs.map((l) => l.end()));
  };
  let modelSet: ModelSet | null = null;
  const models: ModelEngines[] = [];
  try {
    for (const [k, entry] of entries.entries()) {
      const engineLogs = new EngineLogs(modelEngineLog(options.engineLog, k), options.logger);
      logs.push(engineLogs);
      const swap = entry.placement.kind === "swap";
      const makeReplica = replicaFactory({
        // Each model's engines have their own ids (container names, pid files).
        instanceId: k === 0 ? options.instanceId : `${options.instanceId}-m${k}`,
        env: options.env,
        logger: several ? options.logger.child({ model: entry.id }) : options.logger,
        engineLogs,
        ...(swap ? { beforeRestart: () => modelSet?.beforeRestart(entry.id) ?? Promise.resolve() } : {}),
      });
      const members: Replica[] = await Promise.all(
        replicaSlotsOf(entry.config).map((slot) => makeReplica(entry.config, slot)),
      );
      const replicas = new ReplicaSet(members, {
        driver: members[0]?.driver as EngineDriver,
        logger: options.logger.child({ component: "replicas", ...(several ? { model: entry.id } : {}) }),
        // With several models the set sweeps once: a model's sweep would take the others' engines for orphans.
        sweepOrphans: !several,
      });
      models.push({ id: entry.id, entry, replicas, makeReplica });
    }
  } catch (err) {
    await endLogs();
    throw err;
  }
  const first = models[0] as ModelEngines;
  if (!several) return { engines: first.replicas, modelSet: null, models, endLogs };
  const driver = first.replicas.member(first.replicas.indexes()[0] as number)?.driver as EngineDriver;
  const logger = options.logger.child({ component: "models" });
  modelSet = new ModelSet(
    models.map((m) => ({
      id: m.id,
      replicas: m.replicas,
      group:
        m.entry.placement.kind === "swap"
          ? {
              name: m.entry.placement.group,
              awake: m.entry.placement.awake,
              sleepLevel: m.entry.placement.sleepLevel,
            }
          : null,
      weightsBytes: () => weightsBytes(m.entry),
    })),
    {
      clock: systemClock,
      logger,
      idleSleepMs: config.modelIdleSleepMs ?? 300_000,
      wakeTimeoutMs: config.modelWakeTimeoutMs ?? 60_000,
      hostBudgetBytes: totalmem() * HOST_RAM_SHARE,
      // A group's engine that neither gets ready nor fails (its stall timer restarts it) holds the next one back
      // at most this long.
      bootTimeoutMs: 3_600_000,
      sweep: (when) => sweepOrphans(driver, logger, when),
    },
  );
  return { engines: modelSet, modelSet, models, endLogs };
}
