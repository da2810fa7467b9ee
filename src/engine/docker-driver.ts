import { Writable } from "node:stream";
import type Docker from "dockerode";
import type { Logger } from "../log/logger.js";
import {
  containerCreateOptions,
  containerName,
  LABEL_OWNER,
  ownerLabelFilter,
} from "./docker-container-spec.js";
import { dockerUnreachableError, errorStatus } from "./docker-errors.js";
import { ensureImage } from "./docker-image.js";
import type { EngineDriver, EngineExit, EngineHandle, EngineStartSpec } from "./engine-driver.js";
import { EngineStartError } from "./engine-driver.js";
import { CONTAINER_ENGINE_PORT } from "./engine-layout.js";
import { EngineLease, LEASE_TIMEOUT_S } from "./engine-lease.js";
import { createLineRouter } from "./output-lines.js";

export interface DockerDriverOptions {
  docker: Docker;
  image: string;
  gpuIds: "all" | number[];
  modelDir: string | null;
  /** MODEL_DIR mounted read-only (the engine runs offline after `pull`). */
  modelDirReadOnly?: boolean;
  localModelPath?: string | null;
  /** The engine's port on 127.0.0.1; 0 = an ephemeral port. */
  hostPort: number;
  /** DISTRIBUTED_EXECUTOR=ray: run on the host's network (hostPort must then be set). */
  hostNetwork?: boolean;
  /** A stable id of this LLM_RUNNER_HOME: labels our containers so orphans can be found after a crash. */
  ownerId: string;
  pullTimeoutMs?: number;
  /** The container's own stop timeout (a `docker stop` from anyone): DRAIN_TIMEOUT + ENGINE_STOP_GRACE. */
  stopTimeoutMs?: number;
  /** Where each container's lease is kept (<home>/engines): the engine stops when the runner stops renewing it. */
  leaseDir?: string;
  logger: Logger;
}

/** A container of this home's owner label, as `check` names one left behind. */
export interface OwnedContainer {
  id: string;
  name: string;
  state: string;
}

// After the container exits, how long `exited` waits for the last log lines to be routed.
const LOG_DRAIN_MS = 2_000;
// How many times (one second apart) a lost Docker API is retried before the engine counts as exited.
const WAIT_RETRIES = 30;

/** Runs the engine as a container through the Docker API (Docker, or Podman's compatible service). */
export class DockerDriver implements EngineDriver {
  readonly kind = "docker";

  constructor(private readonly options: DockerDriverOptions) {}

  async start(spec: EngineStartSpec): Promise<EngineHandle> {
    const { docker, image, logger } = this.options;
    const log = logger.child({ instanceId: spec.instanceId, image });
    await ensureImage(docker, image, log, this.options.pullTimeoutMs);

    const { leaseDir } = this.options;
    const lease = leaseDir ? EngineLease.take(leaseDir, containerName(spec.instanceId)) : null;
    const createOptions = containerCreateOptions({
      ...this.options,
      spec,
      lease: lease && { hostPath: lease.path, timeoutS: LEASE_TIMEOUT_S },
    });
    let container: Docker.Container;
    try {
      container = await this.create(createOptions, spec.instanceId);
    } catch (err) {
      lease?.release();
      throw err;
    }
    log.info(
      { container: container.id, env: Object.keys(spec.env), gpuIds: this.options.gpuIds },
      "engine container created",
    );
    try {
      await container.start();
      // Logs and wait first: an engine that fails at once must still deliver its fatal line and exit code.
      const logs = await attachLogs(container, spec);
      const exited = waitForExit(container, logs.done, log);
      if (lease) void exited.then(() => lease.release());
      // On the host's network the engine listens on ENGINE_PORT itself; otherwise on the port Docker published.
      const hostPort = this.options.hostNetwork
        ? this.options.hostPort
        : await publishedPort(container, this.options.hostPort);
      return new DockerEngineHandle(container, `http://127.0.0.1:${hostPort}`, exited, log);
    } catch (err) {
      await container.remove({ force: true }).catch(() => {});
      lease?.release();
      if (err instanceof EngineStartError) throw err;
      throw new EngineStartError(
        `The engine container for ${image} could not be started: ${err instanceof Error ? err.message : String(err)}`,
        this.options.hostPort
          ? `Is 127.0.0.1:${this.options.hostPort} free? Set ENGINE_PORT=0 to let the engine pick a free port.`
          : undefined,
        { cause: err },
      );
    }
  }

  /** Every container with this home's owner label (running or not), without touching them. */
  async findOwned(): Promise<OwnedContainer[]> {
    return (await this.listOwned()).map((info) => ({
      id: info.Id,
      name: (info.Names[0] ?? info.Id).replace(/^\//, ""),
      state: info.State,
    }));
  }

  async removeOrphans(): Promise<string[]> {
    const { docker, logger, leaseDir } = this.options;
    const found = await this.listOwned();
    if (leaseDir) EngineLease.removeStale(leaseDir);
    const removed: string[] = [];
    for (const info of found) {
      try {
        await docker.getContainer(info.Id).remove({ force: true });
      } catch (err) {
        if (errorStatus(err) !== 404) throw dockerUnreachableError(docker, err);
      }
      logger.warn(
        { container: info.Id, name: info.Names[0], state: info.State },
        "removed an orphaned engine container",
      );
      removed.push(info.Id);
    }
    return removed;
  }

  private async listOwned(): Promise<Docker.ContainerInfo[]> {
    const { docker, ownerId } = this.options;
    try {
      return await docker.listContainers({ all: true, filters: { label: ownerLabelFilter(ownerId) } });
    } catch (err) {
      throw dockerUnreachableError(docker, err);
    }
  }

  /** Creates the container; a leftover of ours with the same name (same instance id) is replaced. */
  private async create(
    options: Docker.ContainerCreateOptions,
    instanceId: string,
  ): Promise<Docker.Container> {
    const { docker, ownerId } = this.options;
    try {
      return await docker.createContainer(options);
    } catch (err) {
      if (errorStatus(err) !== 409) throw createError(docker, options, err);
    }
    const name = containerName(instanceId);
    const existing = docker.getContainer(name);
    const info = await existing.inspect().catch(() => null);
    if (info?.Config.Labels?.[LABEL_OWNER] !== ownerId) {
      throw new EngineStartError(
        `A container named ${name} already exists and is not one of ours`,
        `Remove it (docker rm -f ${name}) or start with another instance id.`,
      );
    }
    await existing.remove({ force: true });
    try {
      return await docker.createContainer(options);
    } catch (err) {
      throw createError(docker, options, err);
    }
  }
}

function createError(docker: Docker, options: Docker.ContainerCreateOptions, err: unknown): EngineStartError {
  if (errorStatus(err) === null) return dockerUnreachableError(docker, err);
  return new EngineStartError(
    `The engine container for ${options.Image} could not be created: ${err instanceof Error ? err.message : String(err)}`,
    "Check MODEL_DIR (it must be an existing folder) and GPU_IDS.",
    { cause: err },
  );
}

/** The host port the engine was published on; the requested one when the engine has already exited. */
async function publishedPort(container: Docker.Container, requested: number): Promise<number> {
  const info = await container.inspect();
  const binding = info.NetworkSettings.Ports?.[`${CONTAINER_ENGINE_PORT}/tcp`]?.[0];
  const port = Number(binding?.HostPort);
  if (Number.isInteger(port) && port > 0) return port;
  // A stopped container has no published ports; its `exited` tells the caller what happened.
  if (!info.State.Running) return requested;
  throw new Error(`the engine port ${CONTAINER_ENGINE_PORT}/tcp was not published on the host`);
}

/** Follows the container's output from its start, routing lifecycle lines and logs; resolves when output ends. */
async function attachLogs(
  container: Docker.Container,
  spec: EngineStartSpec,
): Promise<{ done: Promise<void> }> {
  const stream = (await container.logs({
    follow: true,
    stdout: true,
    stderr: true,
  })) as unknown as NodeJS.ReadableStream;
  const routers = { stdout: createLineRouter(spec, "stdout"), stderr: createLineRouter(spec, "stderr") };
  const sink = (router: { write(chunk: Buffer): void }) =>
    new Writable({
      write(chunk: Buffer, _enc, done) {
        router.write(chunk);
        done();
      },
    });
  container.modem.demuxStream(stream, sink(routers.stdout), sink(routers.stderr));
  const done = new Promise<void>((resolve) => {
    let ended = false;
    const finish = () => {
      if (ended) return;
      ended = true;
      routers.stdout.end();
      routers.stderr.end();
      resolve();
    };
    stream.once("end", finish);
    stream.once("close", finish);
    stream.once("error", finish);
  });
  // The caller is not interested in the stream once it ends; wrap the promise so `await` does not wait for it.
  return { done };
}

function waitForExit(container: Docker.Container, logsDone: Promise<void>, log: Logger): Promise<EngineExit> {
  return exitCode(container, log).then(async (code) => {
    await within(logsDone, LOG_DRAIN_MS);
    log.info({ code }, "engine container exited");
    return { code, signal: null };
  });
}

/**
 * The container's exit code. The wait request can drop while the container still runs (the API service
 * restarted), so a failed wait is checked against the container's state before anyone is told it exited.
 */
async function exitCode(container: Docker.Container, log: Logger): Promise<number | null> {
  for (let attempt = 0; ; attempt++) {
    try {
      const result = (await container.wait()) as { StatusCode?: number };
      return typeof result.StatusCode === "number" ? result.StatusCode : null;
    } catch (err) {
      log.debug({ err }, "container wait failed; checking the container's state");
    }
    try {
      const info = await container.inspect();
      if (!info.State.Running) return info.State.ExitCode ?? null;
    } catch (err) {
      if (errorStatus(err) === 404) return null; // removed by someone else; its code is lost
      if (attempt >= WAIT_RETRIES) {
        log.warn({ err }, "lost contact with the Docker API; reporting the engine as exited");
        return null;
      }
    }
    await sleep(1_000);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits for `promise`, but no longer than `ms` (without keeping the process alive after it settles). */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

class DockerEngineHandle implements EngineHandle {
  readonly id: string;
  private stopping: Promise<void> | null = null;
  private killAt = Number.POSITIVE_INFINITY;
  private killTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly container: Docker.Container,
    readonly baseUrl: string,
    readonly exited: Promise<EngineExit>,
    private readonly log: Logger,
  ) {
    this.id = container.id;
  }

  async running(): Promise<boolean> {
    try {
      return (await this.container.inspect()).State.Running;
    } catch (err) {
      if (errorStatus(err) === 404) return false;
      throw err;
    }
  }

  stop(graceMs: number): Promise<void> {
    if (this.stopping) this.killSooner(graceMs);
    // A failed stop (Docker API unreachable) may be retried; a successful one is shared by every caller.
    this.stopping ??= this.stopAndRemove(graceMs).catch((err: unknown) => {
      this.stopping = null;
      throw err;
    });
    return this.stopping;
  }

  // One SIGTERM per engine (a second would make vLLM give up its drain): a later, shorter stop only kills sooner.
  private killSooner(graceMs: number): void {
    const at = Date.now() + graceMs;
    if (at >= this.killAt) return;
    this.killAt = at;
    clearTimeout(this.killTimer);
    const kill = () => void this.container.kill().catch(() => {});
    this.killTimer = setTimeout(kill, Math.max(0, graceMs));
    void this.exited.then(() => clearTimeout(this.killTimer));
  }

  private async stopAndRemove(graceMs: number): Promise<void> {
    const c = this.container;
    this.killAt = Date.now() + graceMs;
    // 304: already stopped; 404: already gone. Both are what we want.
    const tolerate = (err: unknown) => {
      const status = errorStatus(err);
      if (status !== 304 && status !== 404 && status !== 409) throw err;
    };
    await c.stop({ t: Math.max(0, Math.ceil(graceMs / 1000)) }).catch(tolerate);
    const info = await c.inspect().catch((err) => (errorStatus(err) === 404 ? null : Promise.reject(err)));
    if (info?.State.Running) await c.kill().catch(tolerate);
    if (info) await within(this.exited, 10_000);
    await c.remove({ force: true }).catch(tolerate);
    await this.waitUntilGone();
    this.log.info({ container: this.id }, "engine container stopped and removed");
  }

  // Removal can finish asynchronously ("removal in progress"); the contract is that the container is gone.
  private async waitUntilGone(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const status = await this.container.inspect().then(
        () => 200,
        (err) => errorStatus(err),
      );
      if (status === 404) return;
      await sleep(100);
      if (i % 10 === 9) await this.container.remove({ force: true }).catch(() => {});
    }
    throw new Error(`engine container ${this.id} is still present after removal`);
  }
}
