// The canary: a 1-token generation sent straight to an idle engine, because /health only says the HTTP server
// and the engine process are up, not that the engine can still generate (vLLM issues #2731, #17972, #39863:
// generation wedged while /health kept answering 200). The in-flight watchdog only sees a hang when users are
// waiting; the canary finds it first. Canary requests go around the gateway: not billed, not in the ledger.
import type { Logger } from "../log/logger.js";
import type { CanaryClient } from "./canary-client.js";
import type { Clock, TimerId } from "./clock.js";
import type { CanaryFigures, EngineEndpoint } from "./types.js";

export interface CanaryWatchOptions {
  /** ENGINE_CANARY_INTERVAL: idle time before a canary is sent; 0 = off. */
  intervalMs: number;
  /** ENGINE_CANARY_TIMEOUT: no token within this → hung. */
  timeoutMs: number;
  /** The served model name the canary asks for. */
  model: string;
}

export interface CanaryWatchDeps {
  clock: Clock;
  logger: Logger;
  canary: CanaryClient;
  /** Since when nothing has been in flight (ms); null while requests are in flight. */
  idleSince(): number | null;
  /** When the engine last sent a token for any user request (ms; 0 if never). */
  lastTokenAt(): number;
  /** The canary got no token in time: the engine is hung. */
  onHung(message: string): void;
}

/** Sends canaries to one engine while it is ready and idle. start() when it becomes ready, stop() when not. */
export class CanaryWatch {
  private endpoint: EngineEndpoint | null = null;
  private timer: TimerId | undefined;
  private deadline: TimerId | undefined;
  private inFlight: AbortController | null = null;
  private lastCanaryAt = 0;
  private readySince = 0;
  private readonly counts: CanaryFigures = { sent: 0, ok: 0, errors: 0, timeouts: 0, lastLatencyMs: null };

  constructor(
    private readonly options: CanaryWatchOptions,
    private readonly deps: CanaryWatchDeps,
  ) {}

  get enabled(): boolean {
    return this.options.intervalMs > 0;
  }

  figures(): CanaryFigures {
    return { ...this.counts };
  }

  start(endpoint: EngineEndpoint): void {
    this.stop();
    if (!this.enabled) return;
    this.endpoint = endpoint;
    this.readySince = this.deps.clock.now();
    this.schedule(this.options.intervalMs);
  }

  stop(): void {
    this.endpoint = null;
    this.deps.clock.clearTimeout(this.timer);
    this.deps.clock.clearTimeout(this.deadline);
    this.timer = this.deadline = undefined;
    this.inFlight?.abort(new Error("the engine is going down"));
    this.inFlight = null;
  }

  private schedule(ms: number): void {
    this.deps.clock.clearTimeout(this.timer);
    this.timer = this.deps.clock.setTimeout(() => this.check(), Math.max(1, ms));
  }

  private check(): void {
    if (!this.endpoint || this.inFlight) return;
    const idleSince = this.deps.idleSince();
    // Busy: look again an interval later (a canary is only for an engine nobody is using).
    const quietSince = idleSince === null ? null : Math.max(idleSince, this.lastCanaryAt, this.readySince);
    const due =
      quietSince === null
        ? this.options.intervalMs
        : quietSince + this.options.intervalMs - this.deps.clock.now();
    if (due > 0) this.schedule(due);
    else this.send(this.endpoint);
  }

  private send(endpoint: EngineEndpoint): void {
    const { clock, logger } = this.deps;
    const sentAt = clock.now();
    const controller = new AbortController();
    this.inFlight = controller;
    this.counts.sent++;
    const seq = this.counts.sent;
    const finish = () => {
      clock.clearTimeout(this.deadline);
      this.deadline = undefined;
      this.inFlight = null;
      this.lastCanaryAt = clock.now();
      if (this.endpoint === endpoint) this.schedule(this.options.intervalMs);
    };
    this.deadline = clock.setTimeout(() => {
      if (this.inFlight !== controller) return;
      controller.abort(new Error("canary timeout"));
      finish();
      const seconds = Math.round(this.options.timeoutMs / 1000);
      // Tokens for user requests flowed meanwhile: the engine works, the canary just queued behind them.
      if (this.deps.lastTokenAt() > sentAt) {
        logger.warn(
          { canary: true, seq },
          `canary got no token in ${seconds} s, but user requests did: not hung`,
        );
        return;
      }
      this.counts.timeouts++;
      this.deps.onHung(
        `the idle engine produced no token for a 1-token canary request in ${seconds} s while its /health said OK`,
      );
    }, this.options.timeoutMs);
    this.deps.canary.generate(endpoint, this.options.model, controller.signal).then((answer) => {
      if (this.inFlight !== controller) return; // timed out or stopped meanwhile
      finish();
      if (answer.kind === "token") {
        this.counts.ok++;
        this.counts.lastLatencyMs = clock.now() - sentAt;
        logger.debug({ canary: true, seq, latencyMs: this.counts.lastLatencyMs }, "canary ok");
      } else {
        this.counts.errors++;
        logger.warn({ canary: true, seq }, `canary request failed: ${answer.detail}`);
      }
    });
  }
}
