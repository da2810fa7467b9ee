// The engine's health, watched on timers: the stall timer while loading, readiness polling until /health says
// OK, then liveness probes, the in-flight hang watchdog and the idle canary while ready. It decides nothing about
// restarts: it reports "ready" or "down (why)" to the supervisor, which owns state, spawn and stop.

import type { Logger } from "../log/logger.js";
import type { LifecycleEvent } from "../protocol/lifecycle.js";
import type { CanaryClient } from "./canary-client.js";
import { CanaryWatch } from "./canary-watch.js";
import type { Clock, TimerId } from "./clock.js";
import type { EngineFailure } from "./engine-failure.js";
import type { EngineProbe } from "./engine-probe.js";
import type { RequestTickets } from "./request-tickets.js";
import type { CanaryFigures, EngineEndpoint, SupervisorState } from "./types.js";

export interface HealthWatchOptions {
  /** The served model name the canary asks for. */
  modelId: string;
  stallTimeoutMs: number; // ENGINE_STALL_TIMEOUT: no sign of life this long while loading = stalled
  hangTimeoutMs: number; // ENGINE_HANG_TIMEOUT: requests in flight and no engine byte this long = hung
  readinessPollMs?: number; // 300
  livenessIntervalMs?: number; // 5000
  livenessFailures?: number; // 2 failed probes in a row = dead
  probeTimeoutMs?: number; // 2000
  canaryIntervalMs?: number; // ENGINE_CANARY_INTERVAL: idle time before a canary generation; 0/absent = off
  canaryTimeoutMs?: number; // ENGINE_CANARY_TIMEOUT (30000)
}

export interface HealthWatchDeps {
  clock: Clock;
  logger: Logger;
  probe: EngineProbe;
  canary?: CanaryClient;
  tickets: RequestTickets;
  /** The supervisor's state and current engine address, read at each tick. */
  state(): SupervisorState;
  endpoint(): EngineEndpoint | null;
  /** /health answered OK while loading. */
  onReady(): void;
  /** The engine is alive but must go (stalled while loading, unhealthy, hung). */
  onDown(failure: EngineFailure): void;
}

export class HealthWatch {
  private readonly canary: CanaryWatch;
  private livenessFails = 0;
  private quieted = false;
  private timers: { stall?: TimerId; poll?: TimerId; liveness?: TimerId; watchdog?: TimerId } = {};

  constructor(
    private readonly options: HealthWatchOptions,
    private readonly deps: HealthWatchDeps,
  ) {
    const intervalMs = options.canaryIntervalMs ?? 0;
    if (intervalMs > 0 && !deps.canary) throw new Error("canaryIntervalMs needs deps.canary");
    this.canary = new CanaryWatch(
      { intervalMs, timeoutMs: options.canaryTimeoutMs ?? 30_000, model: options.modelId },
      {
        clock: deps.clock,
        logger: deps.logger,
        canary: deps.canary ?? { generate: async () => ({ kind: "error", detail: "no canary" }) },
        idleSince: () => deps.tickets.idleSince(),
        lastTokenAt: () => deps.tickets.lastTokenAt(),
        onHung: (message) =>
          deps.onDown({
            reason: "hang",
            message,
            hint: "the engine was restarted before a user met the hang; if this repeats, look at the engine log",
          }),
      },
    );
  }

  /** Canary counts, when the canary is on. */
  canaryFigures(): CanaryFigures | undefined {
    return this.canary.enabled ? this.canary.figures() : undefined;
  }

  /** A new engine is being started: forget the last one's failed probes. */
  begin(): void {
    this.livenessFails = 0;
    this.quieted = false;
  }

  /** The engine showed a sign of life while starting or loading: restart the stall timer. */
  armStall(): void {
    this.deps.clock.clearTimeout(this.timers.stall);
    const ms = this.options.stallTimeoutMs;
    this.timers.stall = this.deps.clock.setTimeout(() => {
      const state = this.deps.state();
      if (state !== "loading" && state !== "starting") return;
      this.deps.onDown({
        reason: "stall_timeout",
        message: `the engine made no progress for ${Math.round(ms / 1000)} s while loading`,
        hint: "look at the engine log (llm-runner logs --engine); raise ENGINE_STALL_TIMEOUT if loading is just slow",
      });
    }, ms);
  }

  /** Any output while loading is a sign of life (torch.compile and CUDA-graph capture print no progress). */
  signOfLife(): void {
    const state = this.deps.state();
    if (state === "loading" || state === "starting") this.armStall();
  }

  /** The engine's own lifecycle lines: progress is a sign of life; "ready" is confirmed over HTTP at once. */
  lifecycle(event: LifecycleEvent): void {
    if (event.event === "starting") this.armStall();
    else if (event.event === "loading") this.signOfLife();
    else if (event.event === "ready" && this.deps.state() === "loading") this.pollReadiness(0);
  }

  /** Ask the engine's /health after `delayMs` (0: now) and keep asking until it is ready. */
  pollReadiness(delayMs: number): void {
    this.deps.clock.clearTimeout(this.timers.poll);
    this.timers.poll = this.deps.clock.setTimeout(() => void this.readinessProbe(), delayMs);
  }

  /** The engine is ready: stop the stall timer; start liveness, the hang watchdog and the canary. */
  watchReady(endpoint: EngineEndpoint): void {
    this.deps.clock.clearTimeout(this.timers.stall);
    this.scheduleLiveness();
    this.scheduleWatchdog();
    this.canary.start(endpoint);
  }

  /**
   * An engine going to sleep, asleep or waking (sleep mode) generates nothing and queues what it gets: the hang
   * watchdog and the canary wait (on) until it is awake again (off, with its address). Liveness goes on: a
   * sleeping vLLM answers /health 200.
   */
  quiet(on: boolean, endpoint: EngineEndpoint | null): void {
    this.quieted = on;
    if (on) {
      this.deps.clock.clearTimeout(this.timers.watchdog);
      this.canary.stop();
      return;
    }
    if (!this.serving() || endpoint === null) return;
    this.scheduleWatchdog();
    this.canary.start(endpoint);
  }

  /** Stops every timer and the canary. */
  stop(): void {
    const { clock } = this.deps;
    clock.clearTimeout(this.timers.stall);
    clock.clearTimeout(this.timers.poll);
    clock.clearTimeout(this.timers.liveness);
    clock.clearTimeout(this.timers.watchdog);
    this.canary.stop();
    this.timers = {};
  }

  private async readinessProbe(): Promise<void> {
    const endpoint = this.deps.endpoint();
    if (this.deps.state() !== "loading" || !endpoint) return;
    const result = await this.deps.probe.health(endpoint, this.options.probeTimeoutMs ?? 2_000);
    if (this.deps.state() !== "loading" || this.deps.endpoint() !== endpoint) return;
    if (result === "ok") this.deps.onReady();
    else this.pollReadiness(this.options.readinessPollMs ?? 300);
  }

  private scheduleLiveness(): void {
    this.deps.clock.clearTimeout(this.timers.liveness);
    this.timers.liveness = this.deps.clock.setTimeout(
      () => void this.livenessProbe(),
      this.options.livenessIntervalMs ?? 5_000,
    );
  }

  private serving(): boolean {
    const state = this.deps.state();
    return state === "ready" || state === "draining";
  }

  private async livenessProbe(): Promise<void> {
    const endpoint = this.deps.endpoint();
    if (!this.serving() || !endpoint) return;
    const result = await this.deps.probe.health(endpoint, this.options.probeTimeoutMs ?? 2_000);
    if (this.deps.endpoint() !== endpoint || !this.serving()) return;
    if (result === "ok") {
      this.livenessFails = 0;
    } else if (++this.livenessFails >= (this.options.livenessFailures ?? 2)) {
      this.deps.onDown({
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

  /**
   * The in-flight hang watchdog: requests in flight and no byte from the engine for ENGINE_HANG_TIMEOUT. Requests
   * held by their clients' backpressure are not waited on (request-tickets.ts): a slow client is not a hang.
   */
  private scheduleWatchdog(): void {
    this.deps.clock.clearTimeout(this.timers.watchdog);
    const { hangTimeoutMs } = this.options;
    const every = Math.max(50, Math.min(1_000, Math.floor(hangTimeoutMs / 4)));
    this.timers.watchdog = this.deps.clock.setTimeout(() => {
      if (!this.serving() || this.quieted) return;
      const { tickets } = this.deps;
      const stalledFor = tickets.stalledFor();
      if (stalledFor !== null && stalledFor >= hangTimeoutMs) {
        const awaited = tickets.awaited();
        const held = tickets.size - awaited;
        this.deps.onDown({
          reason: "hang",
          message: `the engine made no progress for ${Math.round(stalledFor / 1000)} s (ENGINE_HANG_TIMEOUT) on ${awaited} request(s) in flight, streamed or not${held > 0 ? ` (${held} more held by clients not reading, not counted)` : ""}, although its /health answered OK: it was treated as hung and restarted`,
          hint: "look at the engine log (llm-runner logs --engine) for a stuck GPU, NCCL or driver error; if the engine is only slow to start answering (very long prompts under load), raise ENGINE_HANG_TIMEOUT",
        });
        return;
      }
      this.scheduleWatchdog();
    }, every);
  }
}
