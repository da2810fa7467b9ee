// Builds one replica: its driver (its own GPUs and engine port) and the Supervisor of its engine. Used at start
// for every replica and by reload for each replica it rolls or adds. The docker driver pulls in dockerode
// (ssh2, grpc-js, protobufjs: ~20 MB and ~200 ms): loaded once, only when used, and its client shared.

import { readHostEnv } from "../config/host-env.js";
import { type ReplicaSlot, replicaConfig } from "../config/replica-plan.js";
import type { Config } from "../config/types.js";
import type { EngineDriver } from "../engine/engine-driver.js";
import { ProcessDriver } from "../engine/process-driver.js";
import { buildVllmArgs, engineEnv, engineFiles } from "../engine/vllm-args.js";
import type { Logger } from "../log/logger.js";
import { httpCanaryClient } from "../supervisor/canary-client.js";
import { systemClock } from "../supervisor/clock.js";
import { httpEngineProbe } from "../supervisor/engine-probe.js";
import { httpEngineSleep } from "../supervisor/engine-sleep.js";
import type { LifecycleTrace } from "../supervisor/lifecycle-trace.js";
import type { Replica } from "../supervisor/replica-set.js";
import { Supervisor } from "../supervisor/supervisor.js";
import { engineRecordsDir, ownerIdFor, RUNTIME_DIR } from "./engine-home.js";
import type { EngineLogs } from "./engine-logs.js";

export interface ReplicaFactoryOptions {
  /** The engines' id stem (container names, pid files): one per model. */
  instanceId: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  engineLogs: EngineLogs;
  /**
   * A model of a swap group (config.sleepMode): its engines sleep and wake; a restart first makes room on the
   * group's GPUs (model-set.ts).
   */
  beforeRestart?: () => Promise<void>;
  /** The runner's lifecycle trace: each replica's engine and canary are followed in it. */
  lifecycle?: LifecycleTrace;
  /** With several models: the model these engines serve (named in their lifecycle spans). */
  model?: string;
}

export type ReplicaFactory = (config: Config, slot: ReplicaSlot, generationBase?: number) => Promise<Replica>;

export function replicaFactory(options: ReplicaFactoryOptions): ReplicaFactory {
  let docker: Promise<DockerParts> | null = null;
  const driverLogger = options.logger.child({ component: "driver" });
  return async (config, slot, generationBase = 0) => {
    const own = replicaConfig(config, slot);
    let driver: EngineDriver;
    if (config.driver === "process") {
      driver = new ProcessDriver({
        python: config.python,
        runtimeDir: RUNTIME_DIR,
        home: config.home,
        port: slot.enginePort,
        logger: driverLogger,
        baseEnv: options.env,
      });
    } else {
      docker ??= loadDocker(options.env);
      const { client, DockerDriver } = await docker;
      driver = new DockerDriver({
        docker: client,
        image: config.engineImage,
        gpuIds: slot.gpuIds,
        modelDir: config.modelDir,
        modelDirReadOnly: config.hubOffline === true,
        localModelPath: engineFiles(config, "docker").localModelPath,
        hostPort: slot.enginePort,
        hostNetwork: config.distributedExecutor === "ray",
        ownerId: ownerIdFor(config.home),
        stopTimeoutMs: config.drainTimeoutMs + config.stopGraceMs,
        leaseDir: engineRecordsDir(config.home),
        logger: driverLogger,
      });
    }
    const supervisor = new Supervisor(
      {
        // Each replica's engine has its own id: its container name and pid file.
        instanceId: slot.index === 0 ? options.instanceId : `${options.instanceId}-r${slot.index}`,
        engine: config.engine,
        modelId: config.modelId,
        buildArgs: (listen) => buildVllmArgs(own, driver.kind, listen),
        env: withoutApiKey(engineEnv(own, driver.kind, "")),
        stallTimeoutMs: config.engineStallTimeoutMs,
        hangTimeoutMs: config.engineHangTimeoutMs,
        canaryIntervalMs: config.engineCanaryIntervalMs,
        canaryTimeoutMs: config.engineCanaryTimeoutMs,
        restart: { healthyResetMs: config.engineHealthyResetMs, crashLoopLimit: config.engineCrashLoopLimit },
        drainTimeoutMs: config.drainTimeoutMs,
        stopGraceMs: config.stopGraceMs,
        replica: slot.index,
        generationBase,
        sweepOrphans: false,
        // A sleep or a wake is bounded like a load: no progress for ENGINE_STALL_TIMEOUT is a failure.
        ...(config.sleepMode ? { sleepMode: { level: 1, timeoutMs: config.engineStallTimeoutMs } } : {}),
      },
      {
        driver,
        clock: systemClock,
        logger: options.logger.child({
          component: "supervisor",
          replica: slot.index,
          ...(config.sleepMode ? { model: config.modelId } : {}),
        }),
        probe: httpEngineProbe,
        canary: options.lifecycle ? options.lifecycle.canary(slot.index, httpCanaryClient) : httpCanaryClient,
        ...(config.sleepMode ? { sleep: httpEngineSleep } : {}),
        ...(options.beforeRestart ? { beforeRestart: options.beforeRestart } : {}),
      },
    );
    options.lifecycle?.watch(slot.index, supervisor, options.model);
    options.engineLogs.open(slot.index);
    supervisor.on((event) => {
      if (event.type === "log") options.engineLogs.write(slot.index, event.line);
    });
    return { index: slot.index, gpuIds: slot.gpuIds, maxNumSeqs: config.maxNumSeqs, supervisor, driver };
  };
}

interface DockerParts {
  client: ReturnType<typeof import("../engine/docker-client.js")["createDockerClient"]>;
  DockerDriver: typeof import("../engine/docker-driver.js")["DockerDriver"];
}

async function loadDocker(env: NodeJS.ProcessEnv): Promise<DockerParts> {
  const [{ createDockerClient }, { DockerDriver }] = await Promise.all([
    import("../engine/docker-client.js"),
    import("../engine/docker-driver.js"),
  ]);
  return { client: createDockerClient(readHostEnv(env).dockerHost), DockerDriver };
}

// The supervisor makes a fresh engine key for every start.
function withoutApiKey(env: Record<string, string>): Record<string, string> {
  const { VLLM_API_KEY: _unused, ...rest } = env;
  return rest;
}
