import { randomBytes } from "node:crypto";
import type { EngineExit, EngineHandle } from "../engine/engine-driver.js";
import type { LifecycleEvent } from "../protocol/lifecycle.js";
import type { TimerId } from "./clock.js";
import {
  crashLoopFailure,
  type EngineFailure,
  exitFailure,
  failureError,
  startFailure,
} from "./engine-failure.js";
import { EngineOutput, releaseDeadEngine, sweepOrphans } from "./engine-output.js";
import type { SleepLevel } from "./engine-sleep.js";
import { HealthWatch } from "./health-watch.js";
import { RequestTickets } from "./request-tickets.js";
import {
  DEFAULT_RESTART_POLICY,
  decideRestart,
  type RestartPolicy,
  retryableWhileLoading,
} from "./restart-policy.js";
import { SupervisorEvents } from "./supervisor-events.js";
import type { SupervisorDeps, SupervisorOptions } from "./supervisor-options.js";
import type {
  EngineEndpoint,
  RequestTicket,
  SleepState,
  SupervisorError,
  SupervisorEvent,
  SupervisorSnapshot,
  SupervisorState,
  SupervisorView,
} from "./types.js";

export type { SupervisorDeps, SupervisorOptions };
/**
 * Runs one engine through its life: start → loading → ready, restarts with backoff when it dies or hangs,
 * gives up after a crash loop, and drains on stop. Health checks: health-watch.ts; the restart decision:
 * restart-policy.ts; the state diagram: docs/ARCHITECTURE.md.
 */
export class Supervisor implements SupervisorView {
  private state: SupervisorState = "stopped";
  private readonly events: SupervisorEvents;
  private readonly tickets: RequestTickets;
  private readonly policy: RestartPolicy;
  private readonly watch: HealthWatch;
  private handle: EngineHandle | null = null;
  private endpoint: EngineEndpoint | null = null;
  private generation = 0;
  private restarts = 0;
  /** Failures in a row with no healthy stretch between them (see restart-policy.ts). */
  private crashStreak = 0;
  private readyAtMs: number | null = null;
  private readonly output = new EngineOutput();
  private pendingFailure: EngineFailure | null = null;
  private lastError: SupervisorError | null = null;
  private startedAt: string | null = null;
  private readySince: string | null = null;
  private backoff: TimerId | undefined;
  private spawning: Promise<void> | null = null;
  private cleanup: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private stopRequested = false;
  /** The engine that was sent SIGTERM to drain with the gateway (stop with requests in flight). */
  private draining: EngineHandle | null = null;
  private readonly randomKey: () => string;
  /** Sleep mode only: where the current engine stands (a new engine starts awake). */
  private sleepState: SleepState = "awake";
  /** The level of the last sleep (a level-2 wake also reloads the weights). */
  private sleptAt: SleepLevel = 1;

  constructor(
    private readonly options: SupervisorOptions,
    private readonly deps: SupervisorDeps,
  ) {
    this.policy = { ...DEFAULT_RESTART_POLICY, ...options.restart };
    this.events = new SupervisorEvents(deps.logger);
    this.tickets = new RequestTickets(deps.clock);
    this.watch = new HealthWatch(options, {
      ...deps,
      tickets: this.tickets,
      state: () => this.state,
      endpoint: () => this.endpoint,
      onReady: () => this.becomeReady(),
      onDown: (failure) => this.watchDown(failure),
    });
    this.randomKey = deps.randomKey ?? (() => randomBytes(24).toString("base64url"));
    this.generation = options.generationBase ?? 0;
  }

  /** Removes orphaned engines of ours, then starts the engine. Resolves once the start is under way. */
  async start(): Promise<void> {
    if (this.state !== "stopped" || this.stopRequested) throw new Error(`supervisor already ${this.state}`);
    this.startedAt = new Date(this.deps.clock.now()).toISOString();
    this.setState("starting");
    if (this.options.sweepOrphans !== false) await sweepOrphans(this.deps.driver, this.deps.logger, "start");
    if (this.stopRequested) return;
    this.spawn();
  }

  /**
   * Stops admitting and drains: with requests in flight the engine gets SIGTERM at once and drains too (vLLM's
   * --shutdown-timeout), the gateway waits for them until the drain deadline, then the engine is stopped.
   */
  stop(options: { drainTimeoutMs?: number; force?: boolean } = {}): Promise<void> {
    if (!this.stopping) this.stopping = this.doStop(options);
    else if (options.force) {
      this.tickets.abortAll("the runner is being stopped (forced)");
      // A forced stop during the drain kills the engine now (the driver never sends SIGTERM twice).
      if (this.draining) void this.draining.stop(0);
    }
    return this.stopping;
  }

  snapshot(): SupervisorSnapshot {
    return {
      state: this.state,
      progress: this.output.progress,
      progressDetail: this.output.progressDetail,
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
      ...(this.watch.canaryFigures() ? { canary: this.watch.canaryFigures() } : {}),
      ...(this.options.sleepMode ? { sleep: this.sleepState } : {}),
    };
  }

  admit(): RequestTicket | null {
    if (this.state !== "ready" || !this.endpoint || this.sleepState !== "awake") return null;
    return this.tickets.issue(this.endpoint);
  }

  engineEndpoint(): EngineEndpoint | null {
    return this.state === "ready" || this.state === "draining" ? this.endpoint : null;
  }

  on(listener: (event: SupervisorEvent) => void): () => void {
    return this.events.on(listener);
  }

  /** Resolves when the supervisor reaches one of the states (or rejects on timeout). */
  waitFor(states: SupervisorState[], timeoutMs: number): Promise<SupervisorSnapshot> {
    if (states.includes(this.state)) return Promise.resolve(this.snapshot());
    return this.events.waitFor(states, timeoutMs, () => this.state);
  }

  /**
   * Puts the ready, idle engine to sleep (sleep mode: GPU memory freed, the server kept). Rejects when it is not
   * ready, busy or already asleep; a sleep that fails or times out calls the engine down (restarted, sleep_failed).
   */
  async sleep(level?: SleepLevel): Promise<void> {
    const mode = this.options.sleepMode;
    const client = this.deps.sleep;
    if (!mode || !client) throw new Error("this engine runs without sleep mode");
    const endpoint = this.endpoint;
    if (this.state !== "ready" || endpoint === null) throw new Error(`the engine is ${this.state}`);
    if (this.sleepState !== "awake") throw new Error(`the engine is ${this.sleepState.replace("_", " ")}`);
    if (this.tickets.size > 0) throw new Error(`${this.tickets.size} request(s) are in flight`);
    this.sleptAt = level ?? mode.level;
    this.setSleep("falling_asleep");
    this.watch.quiet(true, null);
    try {
      await client.sleep(endpoint, this.sleptAt, mode.timeoutMs);
    } catch (err) {
      this.sleepCallFailed(
        endpoint,
        "sleep_failed",
        `the engine did not go to sleep: ${(err as Error).message}`,
      );
      throw err;
    }
    if (this.endpoint !== endpoint) throw new Error("the engine was replaced while it went to sleep");
    this.setSleep("asleep");
  }

  /**
   * Wakes the sleeping engine (level 2: the weights reloaded from disk). Resolves at once when awake; a wake that
   * fails or times out calls the engine down, restarted like a crash (wake_failed), and rejects.
   */
  async wake(): Promise<void> {
    const mode = this.options.sleepMode;
    const client = this.deps.sleep;
    if (!mode || !client) throw new Error("this engine runs without sleep mode");
    const endpoint = this.endpoint;
    if (this.state !== "ready" || endpoint === null) throw new Error(`the engine is ${this.state}`);
    if (this.sleepState === "awake") return;
    if (this.sleepState !== "asleep") throw new Error(`the engine is ${this.sleepState.replace("_", " ")}`);
    this.setSleep("waking");
    try {
      await client.wake(endpoint, this.sleptAt, mode.timeoutMs);
    } catch (err) {
      this.sleepCallFailed(endpoint, "wake_failed", `the engine did not wake up: ${(err as Error).message}`);
      throw err;
    }
    if (this.endpoint !== endpoint) throw new Error("the engine was replaced while it woke");
    this.setSleep("awake");
    this.watch.quiet(false, endpoint);
  }

  private sleepCallFailed(
    endpoint: EngineEndpoint,
    reason: "sleep_failed" | "wake_failed",
    message: string,
  ): void {
    if (this.endpoint !== endpoint || this.stopRequested) return;
    this.engineDown({
      reason,
      message,
      hint: "the engine was restarted; look at the engine log (llm-runner logs --engine), and raise ENGINE_STALL_TIMEOUT (it bounds a sleep or a wake) if large weights only take long",
    });
  }

  private setSleep(to: SleepState): void {
    if (this.sleepState === to) return;
    this.sleepState = to;
    if (!this.options.sleepMode) return;
    this.deps.logger.info({ sleep: to }, `engine ${to.replace("_", " ")}`);
    this.events.emit({ type: "sleep", state: to });
  }

  private spawn(restart = false): void {
    this.spawning = this.doSpawn(restart).finally(() => {
      this.spawning = null;
    });
  }

  private async doSpawn(restart: boolean): Promise<void> {
    this.watch.stop();
    if (this.cleanup) await this.cleanup;
    this.cleanup = null;
    if (restart && this.deps.beforeRestart) {
      await this.deps.beforeRestart().catch((err: Error) => {
        this.deps.logger.warn(
          { err: err.message },
          "could not make room before the restart; starting anyway",
        );
      });
      if (this.stopRequested) return;
    }
    this.setSleep("awake");
    const generation = ++this.generation;
    const apiKey = this.randomKey();
    this.output.reset();
    this.pendingFailure = null;
    this.watch.begin();
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
      if (!this.stopRequested) this.onFailure(startFailure(err));
      return;
    }
    if (this.stopRequested || generation !== this.generation) {
      await handle.stop(0);
      return;
    }
    this.handle = handle;
    this.endpoint = { baseUrl: handle.baseUrl, apiKey, generation, replica: this.options.replica ?? 0 };
    this.deps.logger.info({ engineId: handle.id, baseUrl: handle.baseUrl, generation }, "engine started");
    void handle.exited.then((exit) => this.onExit(generation, exit));
    if (this.state === "starting") this.setState("loading");
    this.watch.armStall();
    this.watch.pollReadiness(0);
  }

  private onLog(generation: number, line: string, stream: "stdout" | "stderr"): void {
    if (generation !== this.generation) return;
    this.output.line(line);
    this.watch.signOfLife();
    this.events.emit({ type: "log", line, stream });
  }

  private onLifecycle(generation: number, event: LifecycleEvent): void {
    if (generation !== this.generation) return;
    if (event.event === "loading") {
      this.output.loading(event);
      if (this.state === "starting" && this.handle) this.setState("loading");
      this.events.emit({ type: "progress", progress: this.output.progress, detail: event.detail });
    } else if (event.event === "fatal") {
      this.output.fatal = event;
      this.deps.logger.error({ reason: event.reason, hint: event.hint }, `engine fatal: ${event.detail}`);
    }
    this.watch.lifecycle(event);
  }

  private becomeReady(): void {
    this.output.progress = 1;
    this.readyAtMs = this.deps.clock.now();
    this.readySince = new Date(this.readyAtMs).toISOString();
    this.setState("ready");
    if (this.endpoint) this.watch.watchReady(this.endpoint);
  }

  /**
   * The watch called the engine down. /health also fails when the engine has just exited: then its exit (a crash,
   * or its own fatal line) is the failure, reported by onExit, and not "unhealthy".
   */
  private watchDown(failure: EngineFailure): void {
    const handle = this.handle;
    if (failure.reason !== "unhealthy" || !handle) {
      this.engineDown(failure);
      return;
    }
    const stillOurs = () => this.handle === handle && !this.pendingFailure && !this.stopRequested;
    handle.running().then(
      (alive) => {
        if (!stillOurs()) return;
        if (alive) this.engineDown(failure);
        else this.exitedUnreported();
      },
      () => stillOurs() && this.engineDown(failure),
    );
  }

  /** The engine is gone but its exit is not reported yet: admit nothing more to it, and let onExit say why. */
  private exitedUnreported(): void {
    this.tickets.abortAll("the engine exited");
    if (this.state === "ready") this.setState("restarting");
  }

  /** The engine is alive but must go (hang, stall, unhealthy): kill it; onExit then restarts it. */
  private engineDown(failure: EngineFailure): void {
    if (this.pendingFailure) return;
    this.pendingFailure = failure;
    this.deps.logger.error({ reason: failure.reason }, failure.message);
    this.watch.stop();
    this.tickets.abortAll(failure.message);
    // Admit nothing more to an engine that is being killed.
    if (this.state === "ready") this.setState("restarting");
    const handle = this.handle;
    if (handle) void handle.stop(Math.min(this.options.stopGraceMs, 5_000));
  }

  private onExit(generation: number, exit: EngineExit): void {
    if (generation !== this.generation || this.stopRequested) return;
    // Release what the dead engine holds before the next start reuses it.
    if (this.handle) this.cleanup = releaseDeadEngine(this.handle, this.deps.logger);
    // Only a stop we asked for is a clean exit (returned above): any other exit is a crash, restarted and counted.
    this.onFailure(exitFailure(exit, this.pendingFailure, this.output.fatal));
  }

  private onFailure(failure: EngineFailure): void {
    const wasLoading = this.state === "starting" || this.state === "loading";
    this.watch.stop();
    this.tickets.abortAll(`the engine failed: ${failure.message}`);
    this.handle = null;
    this.endpoint = null;
    this.readySince = null;
    const now = this.deps.clock.now();
    const readyForMs = this.readyAtMs === null ? 0 : now - this.readyAtMs;
    this.readyAtMs = null;
    const error = failureError(failure, this.output.logTail, now);

    const decision = decideRestart(this.policy, this.crashStreak, {
      notRetryable: wasLoading && !retryableWhileLoading(failure.reason),
      readyForMs,
    });
    this.crashStreak = decision.streak;
    if (decision.action !== "restart") {
      const giveUp = decision.action === "give_up";
      this.setError({ ...error, ...(giveUp ? crashLoopFailure(failure, decision.streak, this.policy) : {}) });
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
    this.backoff = this.deps.clock.setTimeout(() => {
      if (!this.stopRequested) this.spawn(true);
    }, delay);
  }

  private async doStop(options: { drainTimeoutMs?: number; force?: boolean }): Promise<void> {
    this.stopRequested = true;
    this.deps.clock.clearTimeout(this.backoff);
    if (this.state !== "stopped" && this.state !== "failed") this.setState("draining");
    let engineStopped: Promise<void> | null = null;
    if (!options.force && this.tickets.size > 0) {
      const drainMs = options.drainTimeoutMs ?? this.options.drainTimeoutMs;
      // A draining vLLM answers /health with 503: that is no failure now.
      this.watch.stop();
      if (this.handle) {
        // The engine refuses new work and finishes its requests for --shutdown-timeout (just past DRAIN_TIMEOUT,
        // see vllm-args.ts); SIGKILL only after that and ENGINE_STOP_GRACE.
        this.draining = this.handle;
        engineStopped = this.handle.stop(drainMs + this.options.stopGraceMs);
        engineStopped.catch(() => {}); // awaited after the drain, which a failed stop must not cut short
      }
      await this.tickets.drained(drainMs);
    }
    this.tickets.abortAll("the runner is stopping");
    if (this.spawning) await this.spawning;
    this.watch.stop();
    const handle = this.handle;
    this.handle = null;
    this.endpoint = null;
    if (engineStopped) await engineStopped;
    else if (handle) await handle.stop(options.force ? 0 : this.options.stopGraceMs);
    this.draining = null;
    if (this.cleanup) await this.cleanup;
    // Safety net: nothing of ours may outlive a stop (e.g. an engine whose start raced a failure).
    if (this.options.sweepOrphans !== false) await sweepOrphans(this.deps.driver, this.deps.logger, "stop");
    this.setState("stopped");
  }

  private setError(error: SupervisorError): void {
    this.lastError = error;
    this.events.emit({ type: "error", error });
  }

  private setState(to: SupervisorState): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    this.deps.logger.info({ from, to }, `engine ${to}`);
    this.events.emit({ type: "state", from, to, snapshot: this.snapshot() });
  }
}
