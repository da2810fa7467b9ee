import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { ConfigSource } from "../config/config-source.js";
import { readHostEnv } from "../config/host-env.js";
import { replicaSlotsOf } from "../config/replica-plan.js";
import type { Config } from "../config/types.js";
import type { ServedModel } from "../gateway/gateway-deps.js";
import { gpuProbeFor } from "../gpu/probe-from-env.js";
import type { GpuProbe } from "../gpu/types.js";
import { LiveRunnerOffers } from "../livepeer/live-runner/live-runner-offers.js";
import type { Logger } from "../log/logger.js";
import { LifecycleTrace } from "../supervisor/lifecycle-trace.js";
import type { ModelSet } from "../supervisor/model-set.js";
import type { ReplicaSet, RunnerEngines } from "../supervisor/replica-set.js";
import type { SupervisorEvent, SupervisorView } from "../supervisor/types.js";
import { closeTracer, openTracer } from "../telemetry/open-tracer.js";
import { VERSION } from "../version.js";
import { type GatewayFront, startGatewayFront } from "./gateway-front.js";
import { keepHomePrivate } from "./home-files.js";
import { acquireHomeLock } from "./home-lock.js";
import { assertHomeWritable } from "./home-writable.js";
import { type InstanceRecord, instancePaths, removeInstance, writeInstance } from "./instance-files.js";
import { createLiveRunnerLink, createLiveRunnerOffers, startLiveRunner } from "./live-runner.js";
import { buildEngines, type RunnerEngineParts } from "./model-engines.js";
import { PrepareFailed, type PrepareStep } from "./prepare-step.js";
import { type ReloadOutcome, reloadModels, reloadReplicas } from "./reload.js";
import { writeReloadRecord } from "./reload-record.js";
import type { ReplicaFactory } from "./replica-factory.js";
import { StatusWriter } from "./status-writer.js";

export interface RunningInstance {
  readonly url: string;
  /** The engines' supervisors (one per replica; with several models, every model's) behind one view. */
  readonly replicas: RunnerEngines;
  readonly record: InstanceRecord;
  /** Reads the config again and rolls the replicas onto it one at a time (reload.ts). */
  reload(): Promise<ReloadOutcome>;
  /** Resolves with the reason when the runner cannot go on and must be stopped (its HTTP workers keep dying). */
  readonly stoppedByItself: Promise<string>;
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
  /** Where the config came from, read again on reload (default: this environment, no flags, no env file). */
  source?: ConfigSource;
  /** Work before the engines start (downloading the model) while the gateway already answers. */
  prepare?: PrepareStep;
}

export async function runInstance(options: RunInstanceOptions): Promise<RunningInstance> {
  const { config, logger } = options;
  assertHomeWritable(config.home);
  // Before anything else touches the home: a second runner on it stops here, naming the first.
  const lock = acquireHomeLock(config.home);
  const openHome = keepHomePrivate(config.home);
  if (openHome !== null) logger.warn({ home: config.home }, openHome);
  const paths = instancePaths(config.home);
  const instanceId = `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  // The runner's process traces its lifecycle (and its requests when it serves them itself).
  const tracer = await openTracer(config.tracing, { "llm_runner.process": "runner" });
  const lifecycle = new LifecycleTrace(tracer, {
    "llm_runner.model": config.modelId,
    "llm_runner.engine": config.engine,
    "llm_runner.driver": config.driver,
    "llm_runner.replicas": replicaSlotsOf(config).length,
    "llm_runner.gateway.workers": config.gatewayWorkers,
    ...(config.models ? { "llm_runner.models": config.models.map((m) => m.id) } : {}),
  });
  let endLogs = async () => {};
  const giveUp = async () => {
    lifecycle.started();
    await closeTracer(tracer, logger);
    await endLogs();
    lock.release();
  };
  let parts: RunnerEngineParts;
  try {
    parts = await buildEngines(config, {
      instanceId,
      env: options.env,
      logger,
      engineLog: paths.engineLog,
      lifecycle,
    });
  } catch (err) {
    await giveUp();
    throw err;
  }
  const { engines: supervisor, modelSet } = parts;
  endLogs = parts.endLogs;
  supervisor.on((event) => options.onEvent?.(event));

  const fakeGpusFile = readHostEnv(options.env).fakeGpusFile ?? null;
  const gpus = options.gpuProbe ?? gpuProbeFor(fakeGpusFile ?? undefined);
  let fatal: (reason: string) => void = () => {};
  const stoppedByItself = new Promise<string>((resolve) => {
    fatal = resolve;
  });
  // Several models: one registration each; else one for the runner.
  const liveRunner = createLiveRunnerOffers(config, logger) ?? createLiveRunnerLink(config, logger);
  let front: GatewayFront;
  try {
    front = await startGatewayFront({
      config,
      supervisor,
      logger,
      gpus,
      ledgerPath: paths.ledger,
      fakeGpusFile,
      onFatal: (reason) => fatal(reason),
      tracer,
      ...(liveRunner ? { liveRunner } : {}),
      ...(modelSet ? { models: servedModels(parts) } : {}),
    });
  } catch (err) {
    await giveUp();
    throw err;
  }
  const record: InstanceRecord = {
    pid: process.pid,
    url: localUrl(front.url),
    host: config.host,
    port: Number(new URL(front.url).port),
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
  const status = new StatusWriter(
    paths.status,
    supervisor,
    () => front.totals(),
    config,
    () => front.workerPids(),
    () => (liveRunner instanceof LiveRunnerOffers ? null : (liveRunner?.snapshot() ?? null)),
    () => (liveRunner instanceof LiveRunnerOffers ? liveRunner.offers() : null),
  );
  status.start();

  let stopping: Promise<void> | null = null;
  const live =
    liveRunner &&
    (await startLiveRunner({
      registrations: liveRunner,
      config,
      listenUrl: front.url,
      supervisor,
      modelSet,
      ledgerProblem: () => front.ledgerProblem(),
      stopping: () => stopping !== null,
      gpus,
      ledgerPath: paths.ledger,
      logger,
    }));

  // With a preparation (a download) the engines start after it, in the background: the gateway answers meanwhile.
  const preparing = new AbortController();
  const started = options.prepare
    ? prepareThenStart(options.prepare, supervisor, preparing.signal, logger)
    : supervisor.start();
  if (!options.prepare) await started;
  lifecycle.started();

  // One reload at a time; its outcome is also written to reload.json for `llm-runner reload`.
  let current = config;
  let reloading: Promise<ReloadOutcome> | null = null;
  const reload = (): Promise<ReloadOutcome> => {
    if (stopping)
      return Promise.resolve({ state: "failed", restarted: [], message: "the runner is stopping" });
    if (reloading)
      return Promise.resolve({ state: "failed", restarted: [], message: "a reload is already running" });
    const startedAt = new Date().toISOString();
    writeReloadRecord(paths.reload, { state: "running", startedAt, message: "reloading" });
    reloading = (async () => {
      const source = options.source ?? { env: options.env, overrides: {}, envFile: null, cwd: process.cwd() };
      const reloadLogger = logger.child({ component: "reload" });
      const run = modelSet
        ? reloadModels({ source, models: parts.models, modelSet, logger: reloadLogger }, current)
        : reloadReplicas(
            {
              source,
              replicas: parts.models[0]?.replicas as ReplicaSet,
              makeReplica: parts.models[0]?.makeReplica as ReplicaFactory,
              logger: reloadLogger,
            },
            current,
          );
      const span = lifecycle.span("reload");
      const { outcome, config: next } = await run.catch((err: Error) => ({
        outcome: { state: "failed" as const, restarted: [], message: `reload failed: ${err.message}` },
        config: current,
      }));
      span.set({
        "llm_runner.reload.state": outcome.state,
        "llm_runner.reload.restarted": "restarted" in outcome ? outcome.restarted.map(String) : [],
      });
      if (outcome.state === "failed") span.fail("reload_failed", outcome.message);
      span.end();
      current = next;
      writeReloadRecord(paths.reload, { ...outcome, startedAt, finishedAt: new Date().toISOString() });
      return outcome;
    })().finally(() => {
      reloading = null;
    });
    return reloading;
  };

  const shutdown = (opts: { force?: boolean } = {}): Promise<void> => {
    if (stopping) {
      if (opts.force) void supervisor.stop({ force: true });
      return stopping;
    }
    stopping = (async () => {
      logger.info({}, opts.force ? "stopping now (forced)" : "draining in-flight requests, then stopping");
      // The orchestrator first: it must route nothing new here while the engines drain.
      if (live && !opts.force) await live.stop();
      else void live?.stop();
      preparing.abort(new Error("the runner is stopping"));
      await started.catch(() => {});
      const stopSpan = lifecycle.span("runner.stop", { "llm_runner.stop.forced": opts.force === true });
      await supervisor.stop(opts.force ? { force: true } : {});
      await front.close();
      status.stop();
      stopSpan.end();
      await closeTracer(tracer, logger);
      await endLogs();
      removeInstance(config.home, process.pid);
      lock.release();
      logger.info({}, "stopped");
    })();
    return stopping;
  };
  return { url: record.url, replicas: supervisor, record, shutdown, reload, stoppedByItself };
}

/** Each model the gateway serves: its own config and the view whose admission wakes it. */
function servedModels(parts: RunnerEngineParts): ServedModel[] {
  const set = parts.modelSet as ModelSet;
  return parts.models.map((m) => ({ config: m.entry.config, supervisor: set.model(m.id) as SupervisorView }));
}

/** A URL this machine can call: listening on all interfaces (0.0.0.0 / ::) is reached through loopback. */
export function localUrl(url: string): string {
  return url.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:");
}

export function defaultLogFile(home: string): string {
  return join(home, "runner.log");
}

/** Runs the preparation (showing its progress), then starts the engines; a failure holds the runner failed. */
async function prepareThenStart(
  prepare: PrepareStep,
  supervisor: RunnerEngines,
  signal: AbortSignal,
  logger: Logger,
): Promise<void> {
  supervisor.hold({ state: "loading", progress: null, detail: "preparing to start the engine" });
  try {
    await prepare.run((progress, detail) => supervisor.hold({ state: "loading", progress, detail }), signal);
  } catch (err) {
    if (signal.aborted) return;
    const failed = err instanceof PrepareFailed ? err : new PrepareFailed((err as Error).message, undefined);
    logger.error({ reason: failed.reason, hint: failed.hint }, failed.message);
    supervisor.hold({
      state: "failed",
      error: {
        reason: failed.reason,
        message: failed.message,
        ...(failed.hint ? { hint: failed.hint } : {}),
        logTail: [],
        at: new Date().toISOString(),
      },
    });
    return;
  }
  if (signal.aborted) return;
  supervisor.hold({ state: "loading", progress: null, detail: "starting the engine" });
  try {
    await supervisor.start();
  } finally {
    // Released once the engines have a state of their own (starting): no "stopped" in between.
    supervisor.hold(null);
  }
}
