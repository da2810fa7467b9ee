import { randomBytes } from "node:crypto";
import type { EngineDriver, EngineExit, EngineHandle, ListenAddress } from "../engine/engine-driver.js";
import type { LifecycleEvent } from "../engine/lifecycle.js";
import type { Logger } from "../log/logger.js";
import { CanaryProbe } from "./canary-probe.js";
import type { Clock, TimerId } from "./clock.js";
import type { EngineCanary } from "./engine-canary.js";
import type { EngineProbe } from "./engine-probe.js";
import { RequestTickets } from "./request-tickets.js";
import { DEFAULT_RESTART_POLICY, decideRestart, type RestartPolicy } from "./restart-policy.js";
import type {
  EngineEndpoint,
  RequestTicket,
  SupervisorError,
  SupervisorEvent,
  SupervisorSnapshot,
  SupervisorState,
  SupervisorView,
} from "./types.js";

export interface SupervisorOptions {
  instanceId: string;
  engine: "vllm" | "sim";
  modelId: string;
  buildArgs(listen: ListenAddress): string[];
  /** Engine environment without the API key (the supervisor adds a fresh VLLM_API_KEY per start). */
  env: Record<string, string>;
  stallTimeoutMs: number;
  hangTimeoutMs: number;
  drainTimeoutMs: number;
  stopGraceMs: number;
  readinessPollMs?: number; // 300
  livenessIntervalMs?: number; // 5000
  livenessFailures?: number; // 2 failed probes in a row = dead
  probeTimeoutMs?: number; // 2000
  canaryIntervalMs?: number; // ENGINE_CANARY_INTERVAL: idle time before a canary generation; 0/absent = off
  canaryTimeoutMs?: number; // ENGINE_CANARY_TIMEOUT (30000)
  restart?: Partial<RestartPolicy>;
}

export interface SupervisorDeps {
  driver: EngineDriver;
  clock: Clock;
  logger: Logger;
  probe: EngineProbe;
  /** Needed when canaryIntervalMs > 0. */
  canary?: EngineCanary;
  randomKey?: () => string;
}

// Fatal start reasons that a restart cannot fix: the operator must change something first.
const NOT_RETRYABLE = new Set([
  "cuda_oom",
  "gpu_memory_busy",
  "kv_cache_oom",
  "model_access",
  "model_not_found",
  "bad_config",
  "no_gpu",
  "injected",
  "start_failed",
]);

const LOG_TAIL_LINES = 50;

interface Failure {
  reason: string;
  message: string;
  hint?: string;
}

/**
 * Runs one engine through its life: start → loading → ready, restarts with backoff when it dies or hangs,
 * gives up after a crash loop, and drains on stop. See DESIGN.md §5.
 */
export class Supervisor implements SupervisorView {
  private state: SupervisorState = "stopped";
  private readonly listeners = new Set<(event: SupervisorEvent) => void>();
  private readonly tickets: RequestTickets;
  private readonly policy: RestartPolicy;
  private readonly canary: CanaryProbe;
  private handle: EngineHandle | null = null;
  private endpoint: EngineEndpoint | null = null;
  private generation = 0;
  private restarts = 0;
  /** Failures in a row with no healthy stretch between them (see restart-policy.ts). */
  private crashStreak = 0;
  private readyAtMs: number | null = null;
  private progress: number | null = null;
  private progressDetail: string | null = null;
  private logTail: string[] = [];
  private fatal: Extract<LifecycleEvent, { event: "fatal" }> | null = null;
  private pendingFailure: Failure | null = null;
  private lastError: SupervisorError | null = null;
  private startedAt: string | null = null;
  private readySince: string | null = null;
  private livenessFails = 0;
  private timers: {
    stall?: TimerId;
    poll?: TimerId;
    liveness?: TimerId;
    watchdog?: TimerId;
    backoff?: TimerId;
  } = {};
  private spawning: Promise<void> | null = null;
  private cleanup: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private stopRequested = false;
  private readonly randomKey: () => string;

  constructor(
    private readonly options: SupervisorOptions,
    private readonly deps: SupervisorDeps,
  ) {
    this.policy = { ...DEFAULT_RESTART_POLICY, ...options.restart };
    this.tickets = new RequestTickets(deps.clock);
    const canaryIntervalMs = options.canaryIntervalMs ?? 0;
    if (canaryIntervalMs > 0 && !deps.canary) throw new Error("canaryIntervalMs needs deps.canary");
    this.canary = new CanaryProbe(
      { intervalMs: canaryIntervalMs, timeoutMs: options.canaryTimeoutMs ?? 30_000, model: options.modelId },
      {
        clock: deps.clock,
        logger: deps.logger,
        canary: deps.canary ?? { generate: async () => ({ kind: "error", detail: "no canary" }) },
        idleSince: () => this.tickets.idleSince(),
        lastTokenAt: () => this.tickets.lastTokenAt(),
        onHung: (message) =>
          this.engineDown({
            reason: "hang",
            message,
            hint: "the engine was restarted before a user met the hang; if this repeats, look at the engine log",
          }),
      },
    );
    this.randomKey = deps.randomKey ?? (() => randomBytes(24).toString("base64url"));
  }

  // ---- public surface -------------------------------------------------------------------------

  /** Removes orphaned engines of ours, then starts the engine. Resolves once the start is under way. */
  async start(): Promise<void> {
    if (this.state !== "stopped" || this.stopRequested) throw new Error(`supervisor already ${this.state}`);
    this.startedAt = new Date(this.deps.clock.now()).toISOString();
    this.setState("starting");
    try {
      const removed = await this.deps.driver.removeOrphans();
      if (removed.length > 0) {
        this.deps.logger.warn(
          { removed },
          `removed ${removed.length} orphaned engine(s) left by an earlier run`,
        );
      }
    } catch (err) {
      this.deps.logger.warn({ err: errorMessage(err) }, "could not look for orphaned engines");
    }
    if (this.stopRequested) return;
    this.spawn();
  }

  /** Stops admitting, lets in-flight requests finish until the drain deadline, then stops the engine. */
  stop(options: { drainTimeoutMs?: number; force?: boolean } = {}): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop(options);
    else if (options.force) this.tickets.abortAll("the runner is being stopped (forced)");
    return this.stopping;
  }

  snapshot(): SupervisorSnapshot {
    return {
      state: this.state,
      progress: this.progress,
      progressDetail: this.progressDetail,
      engine: this.options.engine,
      driver: this.deps.driver.kind,
      modelId: this.options.modelId,
      engineId: this.handle?.id ?? null,
      generation: this.generation,
      restarts: this.restarts,
      inFlight: this.tickets.size,
      startedAt: this.startedAt,
      readySince: this.readySince,
      lastError: this.lastError,
      ...(this.canary.enabled ? { canary: this.canary.figures() } : {}),
    };
  }

  admit(): RequestTicket | null {
    if (this.state !== "ready" || !this.endpoint) return null;
    return this.tickets.issue(this.endpoint);
  }

  engineEndpoint(): EngineEndpoint | null {
    return this.state === "ready" || this.state === "draining" ? this.endpoint : null;
  }

  on(listener: (event: SupervisorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when the supervisor reaches one of the states (or rejects on timeout). */
  waitFor(states: SupervisorState[], timeoutMs: number): Promise<SupervisorSnapshot> {
    if (states.includes(this.state)) return Promise.resolve(this.snapshot());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for ${states.join("/")} (now ${this.state})`),
        );
      }, timeoutMs);
      const off = this.on((ev) => {
        if (ev.type === "state" && states.includes(ev.to)) {
          clearTimeout(timer);
          off();
          resolve(ev.snapshot);
        }
      });
    });
  }

  // ---- engine lifecycle -----------------------------------------------------------------------

  private spawn(): void {
    this.spawning = this.doSpawn().finally(() => {
      this.spawning = null;
    });
  }

  private async doSpawn(): Promise<void> {
    this.clearEngineTimers();
    if (this.cleanup) await this.cleanup;
    this.cleanup = null;
    const generation = ++this.generation;
    const apiKey = this.randomKey();
    this.progress = null;
    this.progressDetail = null;
    this.fatal = null;
    this.pendingFailure = null;
    this.logTail = [];
    this.livenessFails = 0;
    this.setState("starting");

    let handle: EngineHandle;
    try {
      handle = await this.deps.driver.start({
        instanceId: this.options.instanceId,
        engine: this.options.engine,
        modelId: this.options.modelId,
        buildArgs: this.options.buildArgs,
        env: { ...this.options.env, VLLM_API_KEY: apiKey },
        onLog: (line, stream) => this.onLog(generation, line, stream),
        onEvent: (event) => this.onLifecycle(generation, event),
      });
    } catch (err) {
      if (this.stopRequested) return;
      const hint = (err as { hint?: unknown }).hint;
      this.onFailure({
        reason: "start_failed",
        message: `the engine could not be started: ${errorMessage(err)}`,
        ...(typeof hint === "string" ? { hint } : {}),
      });
      return;
    }
    if (this.stopRequested || generation !== this.generation) {
      await handle.stop(0);
      return;
    }
    this.handle = handle;
    this.endpoint = { baseUrl: handle.baseUrl, apiKey, generation };
    this.deps.logger.info({ engineId: handle.id, baseUrl: handle.baseUrl, generation }, "engine started");
    void handle.exited.then((exit) => this.onExit(generation, exit));
    if (this.state === "starting") this.setState("loading");
    this.armStallTimer();
    this.schedulePoll(0);
  }

  private onLog(generation: number, line: string, stream: "stdout" | "stderr"): void {
    if (generation !== this.generation) return;
    this.logTail.push(line);
    if (this.logTail.length > LOG_TAIL_LINES) this.logTail.shift();
    // Any output while loading is a sign of life (torch.compile and CUDA-graph capture print no progress).
    if (this.state === "loading" || this.state === "starting") this.armStallTimer();
    this.emit({ type: "log", line, stream });
  }

  private onLifecycle(generation: number, event: LifecycleEvent): void {
    if (generation !== this.generation) return;
    switch (event.event) {
      case "starting":
        this.armStallTimer();
        break;
      case "loading":
        if (event.progress !== null) this.progress = event.progress;
        this.progressDetail = event.detail;
        if (this.state === "starting" && this.handle) this.setState("loading");
        if (this.state === "loading" || this.state === "starting") this.armStallTimer();
        this.emit({ type: "progress", progress: this.progress, detail: event.detail });
        break;
      case "ready":
        // The runtime says it is ready; confirm over HTTP right away rather than at the next poll.
        if (this.state === "loading") this.schedulePoll(0);
        break;
      case "fatal":
        this.fatal = event;
        this.deps.logger.error({ reason: event.reason, hint: event.hint }, `engine fatal: ${event.detail}`);
        break;
    }
  }

  private schedulePoll(delayMs: number): void {
    this.deps.clock.clearTimeout(this.timers.poll);
    this.timers.poll = this.deps.clock.setTimeout(() => void this.pollReadiness(), delayMs);
  }

  private async pollReadiness(): Promise<void> {
    const endpoint = this.endpoint;
    if (this.state !== "loading" || !endpoint) return;
    const result = await this.deps.probe.health(endpoint, this.options.probeTimeoutMs ?? 2_000);
    if (this.state !== "loading" || this.endpoint !== endpoint) return;
    if (result === "ok") this.becomeReady();
    else this.schedulePoll(this.options.readinessPollMs ?? 300);
  }

  private becomeReady(): void {
    this.deps.clock.clearTimeout(this.timers.stall);
    this.progress = 1;
    this.readyAtMs = this.deps.clock.now();
    this.readySince = new Date(this.readyAtMs).toISOString();
    this.setState("ready");
    this.scheduleLiveness();
    this.scheduleWatchdog();
    if (this.endpoint) this.canary.start(this.endpoint);
  }

  private armStallTimer(): void {
    this.deps.clock.clearTimeout(this.timers.stall);
    const ms = this.options.stallTimeoutMs;
    this.timers.stall = this.deps.clock.setTimeout(() => {
      if (this.state !== "loading" && this.state !== "starting") return;
      this.engineDown({
        reason: "stall_timeout",
        message: `the engine made no progress for ${Math.round(ms / 1000)} s while loading`,
        hint: "look at the engine log (llm-runner logs --engine); raise ENGINE_STALL_TIMEOUT if loading is just slow",
      });
    }, ms);
  }

  private scheduleLiveness(): void {
    this.deps.clock.clearTimeout(this.timers.liveness);
    this.timers.liveness = this.deps.clock.setTimeout(
      () => void this.probeLiveness(),
      this.options.livenessIntervalMs ?? 5_000,
    );
  }

  private async probeLiveness(): Promise<void> {
    const endpoint = this.endpoint;
    if ((this.state !== "ready" && this.state !== "draining") || !endpoint) return;
    const result = await this.deps.probe.health(endpoint, this.options.probeTimeoutMs ?? 2_000);
    if (this.endpoint !== endpoint || (this.state !== "ready" && this.state !== "draining")) return;
    if (result === "ok") {
      this.livenessFails = 0;
    } else if (++this.livenessFails >= (this.options.livenessFailures ?? 2)) {
      this.engineDown({
        reason: "unhealthy",
        message:
          result === "unhealthy"
            ? "the engine's /health answered 503 (engine dead)"
            : "the engine stopped answering /health",
      });
      return;
    }
    this.scheduleLiveness();
  }

  private scheduleWatchdog(): void {
    this.deps.clock.clearTimeout(this.timers.watchdog);
    const every = Math.max(50, Math.min(1_000, Math.floor(this.options.hangTimeoutMs / 4)));
    this.timers.watchdog = this.deps.clock.setTimeout(() => {
      if (this.state !== "ready" && this.state !== "draining") return;
      const stalledFor = this.tickets.stalledFor();
      if (stalledFor !== null && stalledFor >= this.options.hangTimeoutMs) {
        this.engineDown({
          reason: "hang",
          message: `the engine made no progress for ${Math.round(stalledFor / 1000)} s (ENGINE_HANG_TIMEOUT) on ${this.tickets.size} request(s) in flight, streamed or not, although its /health answered OK: it was treated as hung and restarted`,
          hint: "look at the engine log (llm-runner logs --engine) for a stuck GPU, NCCL or driver error; if the engine is only slow to start answering (very long prompts under load), raise ENGINE_HANG_TIMEOUT",
        });
        return;
      }
      this.scheduleWatchdog();
    }, every);
  }

  /** The engine is alive but must go (hang, stall, unhealthy): kill it; onExit then restarts it. */
  private engineDown(failure: Failure): void {
    if (this.pendingFailure) return;
    this.pendingFailure = failure;
    this.deps.logger.error({ reason: failure.reason }, failure.message);
    this.clearEngineTimers();
    this.tickets.abortAll(failure.message);
    // Admit nothing more to an engine that is being killed.
    if (this.state === "ready") this.setState("restarting");
    const handle = this.handle;
    if (handle) void handle.stop(Math.min(this.options.stopGraceMs, 5_000));
  }

  private onExit(generation: number, exit: EngineExit): void {
    if (generation !== this.generation || this.stopRequested) return;
    // Release what the dead engine still holds (a stopped container keeps its name; a process group may
    // keep workers) before the next start reuses them.
    const dead = this.handle;
    if (dead) {
      this.cleanup = dead.stop(0).catch((err: unknown) => {
        this.deps.logger.warn({ err: errorMessage(err) }, "could not clean up the dead engine");
      });
    }
    // Only a stop we asked for is a clean exit (returned above): vLLM has exited 0 on fatal errors (vllm#48966),
    // so exit code 0 here is a crash like any other, restarted and counted.
    const how =
      exit.code === 0
        ? "exit code 0, but nobody asked it to stop"
        : exit.code !== null
          ? `exit code ${exit.code}`
          : `signal ${exit.signal ?? "unknown"}`;
    const failure: Failure =
      this.pendingFailure ??
      (this.fatal
        ? {
            reason: this.fatal.reason,
            message: this.fatal.detail,
            ...(this.fatal.hint !== undefined ? { hint: this.fatal.hint } : {}),
          }
        : { reason: "crash", message: `the engine exited unexpectedly (${how})` });
    this.onFailure(failure);
  }

  private onFailure(failure: Failure): void {
    const wasLoading = this.state === "starting" || this.state === "loading";
    this.clearEngineTimers();
    this.tickets.abortAll(`the engine failed: ${failure.message}`);
    this.handle = null;
    this.endpoint = null;
    this.readySince = null;
    const now = this.deps.clock.now();
    const readyForMs = this.readyAtMs === null ? 0 : now - this.readyAtMs;
    this.readyAtMs = null;
    const error: SupervisorError = {
      reason: failure.reason,
      message: failure.message,
      ...(failure.hint !== undefined ? { hint: failure.hint } : {}),
      logTail: [...this.logTail],
      at: new Date(now).toISOString(),
    };

    const decision = decideRestart(this.policy, this.crashStreak, {
      notRetryable: wasLoading && NOT_RETRYABLE.has(failure.reason),
      readyForMs,
    });
    this.crashStreak = decision.streak;
    if (decision.action === "fail") {
      this.setError(error);
      this.setState("failed");
      return;
    }
    if (decision.action === "give_up") {
      this.setError({
        ...error,
        reason: "crash_loop",
        message: `the engine failed ${decision.streak} times in a row without staying ready for ${span(this.policy.healthyResetMs)} between them (ENGINE_HEALTHY_RESET); giving up. Last failure (${failure.reason}): ${failure.message}`,
        hint:
          failure.hint ??
          "look at the engine log (llm-runner logs --engine), fix the cause, then start again",
      });
      this.setState("failed");
      return;
    }
    this.setError(error);
    this.restarts++;
    const delay = decision.delayMs;
    this.deps.logger.warn(
      { reason: failure.reason, delayMs: delay, restarts: this.restarts },
      `engine down (${failure.message}); restarting in ${delay} ms`,
    );
    this.setState("restarting");
    this.timers.backoff = this.deps.clock.setTimeout(() => {
      if (!this.stopRequested) this.spawn();
    }, delay);
  }

  private async doStop(options: { drainTimeoutMs?: number; force?: boolean }): Promise<void> {
    this.stopRequested = true;
    this.deps.clock.clearTimeout(this.timers.backoff);
    if (this.state !== "stopped" && this.state !== "failed") this.setState("draining");
    if (!options.force && this.tickets.size > 0) {
      await this.tickets.drained(options.drainTimeoutMs ?? this.options.drainTimeoutMs);
    }
    this.tickets.abortAll("the runner is stopping");
    if (this.spawning) await this.spawning;
    this.clearEngineTimers();
    const handle = this.handle;
    this.handle = null;
    this.endpoint = null;
    if (handle) await handle.stop(options.force ? 0 : this.options.stopGraceMs);
    if (this.cleanup) await this.cleanup;
    // Safety net: nothing of ours may outlive a stop (e.g. an engine whose start raced a failure).
    try {
      const left = await this.deps.driver.removeOrphans();
      if (left.length > 0) this.deps.logger.warn({ removed: left }, "removed engines left over at stop");
    } catch (err) {
      this.deps.logger.warn({ err: errorMessage(err) }, "could not look for left-over engines at stop");
    }
    this.setState("stopped");
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private clearEngineTimers(): void {
    const { clock } = this.deps;
    clock.clearTimeout(this.timers.stall);
    clock.clearTimeout(this.timers.poll);
    clock.clearTimeout(this.timers.liveness);
    clock.clearTimeout(this.timers.watchdog);
    this.canary.stop();
    this.timers = { ...(this.timers.backoff ? { backoff: this.timers.backoff } : {}) };
  }

  private setError(error: SupervisorError): void {
    this.lastError = error;
    this.emit({ type: "error", error });
  }

  private setState(to: SupervisorState): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.deps.logger.info({ from, to }, `engine ${to}`);
    this.emit({ type: "state", from, to, snapshot: this.snapshot() });
  }

  private emit(event: SupervisorEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.deps.logger.error({ err: errorMessage(err) }, "supervisor listener threw");
      }
    }
  }
}

function span(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
