// The runner's lifecycle as one trace: a root span for the start (runner.start), and under it, per replica, a span
// for each stretch of an engine's life: engine.start (spawned until ready: loading progress as events),
// engine.serve (ready until it goes down: failed with the reason of a crash or hang), engine.restart (the backoff
// before the next start), engine.drain (a stop with requests in flight), and engine.canary for each canary
// probe; reload for a configuration reload. Spans end as the states change, so each is exported as it closes.
import { RUNNER } from "../telemetry/attributes.js";
import type { Attributes, Span, Tracer } from "../telemetry/tracer.js";
import { epochMs, NOOP_SPAN } from "../telemetry/tracer.js";
import type { CanaryClient } from "./canary-client.js";
import type { SleepState, SupervisorEvent } from "./types.js";

type Stretch = "engine.start" | "engine.serve" | "engine.restart" | "engine.drain";

export class LifecycleTrace {
  private readonly root: Span;

  constructor(
    private readonly tracer: Tracer,
    attributes: Attributes,
  ) {
    this.root = tracer.startSpan("runner.start", { attributes });
  }

  /** The runner is up (its gateway listens, its engines are on their way): the root span ends. */
  started(): void {
    this.root.end();
  }

  /** A span of the lifecycle beside the engines' (reload, stop). */
  span(name: string, attributes?: Attributes, startTime?: number): Span {
    return this.tracer.startSpan(name, {
      parent: this.root,
      ...(attributes ? { attributes } : {}),
      ...(startTime !== undefined ? { startTime } : {}),
    });
  }

  /** Follows one replica's supervisor (of `model`, with several models); returns the unsubscribe. */
  watch(
    replica: number,
    supervisor: { on(listener: (event: SupervisorEvent) => void): () => void },
    model?: string,
  ): () => void {
    if (!this.tracer.enabled) return () => {};
    const engine = new EngineStretches(this, replica, model);
    const off = supervisor.on((event) => engine.on(event));
    return () => {
      off();
      engine.close();
    };
  }

  /** The canary with a span per probe (its answer, or the timeout that calls the engine hung). */
  canary(replica: number, inner: CanaryClient): CanaryClient {
    if (!this.tracer.enabled) return inner;
    return {
      generate: async (endpoint, model, signal) => {
        const span = this.tracer.startSpan("engine.canary", {
          parent: this.root,
          kind: "client",
          attributes: {
            [RUNNER.replica]: replica,
            [RUNNER.generation]: endpoint.generation,
            [RUNNER.model]: model,
          },
        });
        const sentAt = performance.now();
        const answer = await inner.generate(endpoint, model, signal);
        if (answer.kind === "token") span.set({ [RUNNER.latency]: Math.round(performance.now() - sentAt) });
        else span.fail(signal.aborted ? "timeout" : "canary_error", answer.detail);
        span.end();
        return answer;
      },
    };
  }
}

/** One replica's engine: which stretch of its life is open, and the span for it. */
class EngineStretches {
  private open: Span = NOOP_SPAN;
  private stretch: Stretch | null = null;
  /** A serve span whose engine was called down before its reason came (a hang: the error follows the kill). */
  private awaitingReason: Span | null = null;
  private reason: { reason: string; message: string } | null = null;
  /** An engine.sleep or engine.wake span while the engine falls asleep or wakes (vLLM's sleep mode). */
  private sleepSpan: Span | null = null;

  constructor(
    private readonly trace: LifecycleTrace,
    private readonly replica: number,
    private readonly model?: string,
  ) {}

  on(event: SupervisorEvent): void {
    switch (event.type) {
      case "progress":
        if (this.stretch === "engine.start")
          this.open.event("progress", {
            [RUNNER.progress]: event.progress ?? undefined,
            detail: event.detail,
          });
        return;
      case "sleep":
        this.sleepChange(event.state);
        return;
      case "error": {
        const { reason, message } = event.error;
        if (this.sleepSpan !== null) {
          // A /sleep or /wake_up that failed (sleep_failed, wake_failed): its span carries why.
          this.sleepSpan.fail(reason, message);
          this.endSleep();
        }
        if (this.awaitingReason !== null) {
          this.awaitingReason.fail(reason, message);
          this.awaitingReason.end();
          this.awaitingReason = null;
        } else if (this.stretch === "engine.start" || this.stretch === "engine.serve") {
          this.open.event("engine.failure", { [RUNNER.failureReason]: reason, message });
          this.open.fail(reason, message);
        }
        if (this.stretch === "engine.restart") this.open.set({ [RUNNER.failureReason]: reason });
        this.reason = { reason, message };
        return;
      }
      case "state":
        this.state(event.to, event.snapshot.generation, event.snapshot.restarts);
        return;
      case "log":
        return;
    }
  }

  /** falling_asleep → asleep and waking → awake: one span each (a model of a swap group making room, waking). */
  private sleepChange(to: SleepState): void {
    if (to === "falling_asleep" || to === "waking") {
      this.endSleep();
      this.sleepSpan = this.trace.span(to === "waking" ? "engine.wake" : "engine.sleep", {
        [RUNNER.replica]: this.replica,
        ...(this.model ? { [RUNNER.model]: this.model } : {}),
      });
    } else this.endSleep();
  }

  private endSleep(): void {
    this.sleepSpan?.end();
    this.sleepSpan = null;
  }

  private state(to: string, generation: number, restarts: number): void {
    // A restart or stop ends a sleep or wake under way; one called down (restarting) first waits for its reason,
    // which comes with the engine's exit (the error event fails the span).
    if (to !== "ready" && to !== "restarting") this.endSleep();
    const base = {
      [RUNNER.replica]: this.replica,
      [RUNNER.generation]: generation,
      ...(this.model ? { [RUNNER.model]: this.model } : {}),
    };
    switch (to) {
      case "starting":
        this.settleAwaiting();
        if (this.stretch !== "engine.start")
          this.begin("engine.start", { ...base, [RUNNER.restarts]: restarts });
        return;
      case "loading":
        // The first start reads "starting" before the engine's generation is counted: it is known from here.
        if (this.stretch === "engine.start") {
          this.open.set({ [RUNNER.generation]: generation });
          this.open.event("loading");
        }
        return;
      case "ready":
        this.begin("engine.serve", base);
        return;
      case "restarting": {
        // Called down (hang, unhealthy) before the engine exited: its reason comes with the exit.
        if (this.stretch === "engine.serve" && this.reason === null) {
          this.awaitingReason = this.open;
          this.open = NOOP_SPAN;
        }
        const reason = this.reason?.reason;
        this.begin("engine.restart", {
          ...base,
          [RUNNER.restarts]: restarts,
          [RUNNER.failureReason]: reason,
        });
        return;
      }
      case "draining":
        this.begin("engine.drain", base);
        return;
      case "failed":
        if (this.stretch !== null && this.stretch !== "engine.start" && this.stretch !== "engine.serve")
          this.open.fail(this.reason?.reason ?? "failed", this.reason?.message);
        this.close();
        return;
      case "stopped":
        this.close();
        return;
    }
  }

  private begin(stretch: Stretch, attributes: Attributes): void {
    // One instant ends a stretch and starts the next (each span's own clock would let them overlap a little).
    const at = epochMs();
    this.open.end(at);
    this.reason = null;
    this.stretch = stretch;
    this.open = this.trace.span(stretch, attributes, at);
  }

  private settleAwaiting(): void {
    this.awaitingReason?.end();
    this.awaitingReason = null;
  }

  close(): void {
    this.settleAwaiting();
    this.endSleep();
    this.open.end();
    this.open = NOOP_SPAN;
    this.stretch = null;
  }
}
