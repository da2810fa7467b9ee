import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { type ReplicaSlot, replicaConfig, replicaSlotsOf } from "../config/replica-plan.js";
import type { Config } from "../config/types.js";
import type { EngineDriver } from "../engine/engine-driver.js";
import { ProcessDriver } from "../engine/process-driver.js";
import { buildVllmArgs, engineEnv, engineFiles } from "../engine/vllm-args.js";
import { createGateway } from "../gateway/create-gateway.js";
import { serveGateway } from "../gateway/http/serve.js";
import { gpuProbeFromEnv } from "../gpu/probe-from-env.js";
import type { GpuProbe } from "../gpu/types.js";
import type { Logger } from "../log/logger.js";
import { createGatewayMetrics } from "../metrics/gateway-metrics.js";
import { SqliteLedger } from "../pricing/ledger.js";
import { LedgerGuard } from "../pricing/ledger-guard.js";
import { systemClock } from "../supervisor/clock.js";
import { httpEngineCanary } from "../supervisor/engine-canary.js";
import { httpEngineProbe } from "../supervisor/engine-probe.js";
import { ReplicaSet } from "../supervisor/replica-set.js";
import { Supervisor } from "../supervisor/supervisor.js";
import type { SupervisorEvent } from "../supervisor/types.js";
import { VERSION } from "../version.js";
import { ownerIdFor, RUNTIME_DIR } from "./engine-home.js";
import { EngineLogs } from "./engine-logs.js";
import { acquireHomeLock } from "./home-lock.js";
import { assertHomeWritable } from "./home-writable.js";
import { type InstanceRecord, instancePaths, removeInstance, writeInstance } from "./instance-files.js";
import { StatusWriter } from "./status-writer.js";

export interface RunningInstance {
  readonly url: string;
  /** The engines' supervisors (one per replica) behind one view. */
  readonly supervisor: ReplicaSet;
  readonly record: InstanceRecord;
  /** Drains and stops everything; idempotent. */
  shutdown(options?: { force?: boolean }): Promise<void>;
}

export interface RunInstanceOptions {
  config: Config;
  logger: Logger;
  /** Environment the process driver passes on to the engine (PATH, CUDA_VISIBLE_DEVICES, ...). */
  env: NodeJS.ProcessEnv;
  logFile: string | null;
  gpuProbe?: GpuProbe;
  onEvent?: (event: SupervisorEvent) => void;
}

// The docker driver pulls in dockerode (ssh2, grpc-js, protobufjs: ~20 MB and ~200 ms): loaded only when used.
// One driver per replica: each has its own GPUs and engine port; docker replicas share one client.
async function createDrivers(
  config: Config,
  slots: ReplicaSlot[],
  env: NodeJS.ProcessEnv,
  logger: Logger,
): Promise<EngineDriver[]> {
  if (config.driver === "process") {
    return slots.map(
      (slot) =>
        new ProcessDriver({
          python: config.python,
          runtimeDir: RUNTIME_DIR,
          home: config.home,
          port: slot.enginePort,
          logger,
          baseEnv: env,
        }),
    );
  }
  const [{ createDockerClient }, { DockerDriver }] = await Promise.all([
    import("../engine/docker-client.js"),
    import("../engine/docker-driver.js"),
  ]);
  const docker = createDockerClient(env.DOCKER_HOST);
  return slots.map(
    (slot) =>
      new DockerDriver({
        docker,
        image: config.engineImage,
        gpuIds: slot.gpuIds,
        modelDir: config.modelDir,
        localModelPath: engineFiles(config, "docker").localModelPath,
        hostPort: slot.enginePort,
        ownerId: ownerIdFor(config.home),
        logger,
      }),
  );
}

/**
 * Starts one llm-runner instance: the gateway on HOST:PORT (answering /health LOADING at once), then the
 * supervisor and its engine. Writes instance.json/status.json in LLM_RUNNER_HOME for the other CLI commands.
 */
export async function runInstance(options: RunInstanceOptions): Promise<RunningInstance> {
  const { config, logger } = options;
  assertHomeWritable(config.home);
  // Before anything else touches the home: a second runner on it stops here, naming the first.
  const lock = acquireHomeLock(config.home);
  const paths = instancePaths(config.home);
  const instanceId = `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  const slots = replicaSlotsOf(config);
  const engineLogs = new EngineLogs(slots, paths.engineLog, logger);
  let drivers: EngineDriver[];
  try {
    drivers = await createDrivers(config, slots, options.env, logger.child({ component: "driver" }));
  } catch (err) {
    await engineLogs.end();
    lock.release();
    throw err;
  }

  const members = slots.map((slot, i) => {
    const own = replicaConfig(config, slot);
    const driver = drivers[i] as EngineDriver;
    const many = slots.length > 1;
    const supervisor = new Supervisor(
      {
        // Each replica's engine has its own id: its container name and pid file.
        instanceId: many ? `${instanceId}-r${slot.index}` : instanceId,
        engine: config.engine,
        modelId: config.modelId,
        buildArgs: (listen) => buildVllmArgs(own, driver.kind, listen),
        env: withoutApiKey(engineEnv(own, driver.kind, "")),
        stallTimeoutMs: config.engineStallTimeoutMs,
        hangTimeoutMs: config.engineHangTimeoutMs,
        canaryIntervalMs: config.engineCanaryIntervalMs,
        canaryTimeoutMs: config.engineCanaryTimeoutMs,
        restart: { healthyResetMs: config.engineHealthyResetMs },
        drainTimeoutMs: config.drainTimeoutMs,
        stopGraceMs: config.stopGraceMs,
        replica: slot.index,
        sweepOrphans: false,
      },
      {
        driver,
        clock: systemClock,
        logger: logger.child(
          many ? { component: "supervisor", replica: slot.index } : { component: "supervisor" },
        ),
        probe: httpEngineProbe,
        canary: httpEngineCanary,
      },
    );
    supervisor.on((event) => {
      if (event.type === "log") engineLogs.write(slot.index, event.line);
    });
    return { index: slot.index, gpuIds: slot.gpuIds, supervisor };
  });
  const supervisor = new ReplicaSet(members, {
    driver: drivers[0] as EngineDriver,
    logger: logger.child({ component: "replicas" }),
  });
  supervisor.on((event) => options.onEvent?.(event));

  let ledger: LedgerGuard;
  try {
    ledger = new LedgerGuard(SqliteLedger.open(paths.ledger), {
      dir: config.home,
      logger: logger.child({ component: "ledger" }),
    });
  } catch (err) {
    await engineLogs.end();
    lock.release();
    throw new Error(`the usage ledger ${paths.ledger} cannot be opened: ${(err as Error).message}`);
  }
  ledger.start();
  const metrics = createGatewayMetrics();
  const gpus = options.gpuProbe ?? gpuProbeFromEnv(options.env);
  const app = createGateway({
    config,
    supervisor,
    ledger,
    metrics,
    gpus,
    logger: logger.child({ component: "gateway" }),
  });
  let server: Awaited<ReturnType<typeof serveGateway>>;
  try {
    server = await serveGateway(app, { host: config.host, port: config.port });
  } catch (err) {
    ledger.close();
    await engineLogs.end();
    lock.release();
    throw err;
  }

  const record: InstanceRecord = {
    pid: process.pid,
    url: localUrl(server.url),
    host: config.host,
    port: Number(new URL(server.url).port),
    engine: config.engine,
    driver: config.driver,
    modelId: config.modelId,
    instanceId,
    startedAt: new Date().toISOString(),
    logFile: options.logFile,
    engineLogFile: paths.engineLog,
    version: VERSION,
  };
  writeInstance(config.home, record);
  const status = new StatusWriter(paths.status, supervisor, () => ledger.sessionTotals(), config);
  status.start();

  await supervisor.start();

  let stopping: Promise<void> | null = null;
  const shutdown = (opts: { force?: boolean } = {}): Promise<void> => {
    if (stopping) {
      if (opts.force) void supervisor.stop({ force: true });
      return stopping;
    }
    stopping = (async () => {
      logger.info({}, opts.force ? "stopping now (forced)" : "draining in-flight requests, then stopping");
      await supervisor.stop(opts.force ? { force: true } : {});
      await server.close();
      status.stop();
      ledger.close();
      await engineLogs.end();
      removeInstance(config.home, process.pid);
      lock.release();
      logger.info({}, "stopped");
    })();
    return stopping;
  };
  return { url: record.url, supervisor, record, shutdown };
}

/** A URL this machine can call: listening on all interfaces (0.0.0.0 / ::) is reached through loopback. */
export function localUrl(url: string): string {
  return url.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:");
}

// The supervisor makes a fresh engine key for every start.
function withoutApiKey(env: Record<string, string>): Record<string, string> {
  const { VLLM_API_KEY: _unused, ...rest } = env;
  return rest;
}

export function defaultLogFile(home: string): string {
  return join(home, "runner.log");
}
