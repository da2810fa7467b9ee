import { healthStatus } from "../../supervisor/health-status.js";
import { WakeTimeout } from "../../supervisor/model-set.js";
import type { RouteHint } from "../../supervisor/routing/route-decision.js";
import type { RequestTicket, SupervisorSnapshot, SupervisorView } from "../../supervisor/types.js";
import { errors, type GatewayError } from "../http/gateway-error.js";

/** A request admitted to the engine: holds one of the bounded slots and a supervisor ticket. */
export interface AdmittedRequest {
  readonly ticket: RequestTicket;
  /** Ends the ticket and frees the slot; safe to call more than once. */
  release(): void;
}

/**
 * What the routes need of admission: a slot (or a refusal) per request, and the figures /ready and /metrics show.
 * In the runner's own process it is Admission below; in an HTTP worker (GATEWAY_WORKERS > 1) it asks the primary,
 * whose one Admission counts every worker's requests (src/instance/http-workers/remote-admission.ts).
 */
export interface AdmissionPort {
  /** `hint`: the affinity key and the prompt's blocks, for the replica router (SupervisorView.acquire). */
  acquire(signal?: AbortSignal, hint?: RouteHint): Promise<AdmittedRequest>;
  readonly inFlight: number;
  readonly queueDepth: number;
  readonly capacity: number;
}

/** Why the supervisor refuses work, for the 503 message, and how long a client should wait. */
export function notReadyError(snapshot: SupervisorSnapshot): GatewayError {
  const status = healthStatus(snapshot);
  const last = snapshot.lastError ? `${snapshot.lastError.reason}: ${snapshot.lastError.message}` : null;
  switch (snapshot.state) {
    case "starting":
      return errors.notReady(`The engine is starting (${status}); retry shortly.`, 10);
    case "loading": {
      // Before the engine starts, the model is being downloaded: minutes, not seconds.
      if (snapshot.progressDetail?.startsWith("downloading"))
        return errors.notReady(`The model is not ready: ${snapshot.progressDetail}; retry later.`, 30);
      const pct = snapshot.progress === null ? "" : `, ${Math.round(snapshot.progress * 100)}%`;
      return errors.notReady(`The model is loading (${status}${pct}); retry shortly.`, 5);
    }
    case "restarting":
      return errors.notReady(
        `The engine is restarting after a failure (${status})${last ? `: ${last}` : ""}; retry shortly.`,
        5,
      );
    case "draining":
      return errors.notReady(
        "The runner is draining (shutting down); send the request to another runner.",
        30,
      );
    case "failed": {
      const hint = snapshot.lastError?.hint ? ` ${snapshot.lastError.hint}` : "";
      return errors.notReady(`The engine failed (${status})${last ? `: ${last}` : ""}.${hint}`, 60);
    }
    case "stopped":
      return errors.notReady(`The engine is stopped (${status}); the operator must start it.`, 60);
    case "ready":
      return errors.notReady("The engine is not admitting requests right now; retry shortly.", 1);
  }
}

/**
 * Bounds the requests in front of the engines: MAX_NUM_SEQS per ready engine (REPLICAS) can run and QUEUE_SIZE
 * can wait (in the gateway's FIFO with replicas, else in the engine's queue); beyond that a request gets 429 at once instead of piling up.
 */
export class Admission implements AdmissionPort {
  private admitted = 0;

  constructor(
    private readonly supervisor: SupervisorView,
    private readonly maxNumSeqs: number,
    private readonly queueSize: number,
  ) {}

  get capacity(): number {
    return this.running + this.queueSize;
  }

  /** Σ MAX_NUM_SEQS of the ready engines (at least one engine's worth, so refusals name the state, not "busy"). */
  private get running(): number {
    const slots = this.supervisor.readySlots?.() ?? this.maxNumSeqs;
    return slots > 0 ? slots : this.maxNumSeqs;
  }

  get inFlight(): number {
    return this.admitted;
  }

  get queueDepth(): number {
    return Math.max(0, this.admitted - this.running);
  }

  /** A slot and a ticket, or a GatewayError (429 over capacity, 503 not ready). */
  admit(): AdmittedRequest {
    if (this.admitted >= this.capacity) {
      const snapshot = this.supervisor.snapshot();
      throw snapshot.state === "ready" ? errors.busy(this.capacity) : notReadyError(snapshot);
    }
    const ticket = this.supervisor.admit();
    if (ticket === null) throw notReadyError(this.supervisor.snapshot());
    this.admitted += 1;
    return this.hold(ticket);
  }

  /**
   * Like admit(), but with replicas (supervisor.acquire) a request beyond the free slots waits here, in arrival
   * order, for the first slot freed on a ready replica; it holds its place in the capacity while it waits.
   * Rejects with the signal's reason when it aborts (the client went away) while waiting.
   */
  async acquire(signal?: AbortSignal, hint?: RouteHint): Promise<AdmittedRequest> {
    if (this.supervisor.acquire === undefined) return this.admit();
    if (this.admitted >= this.capacity) return this.admit(); // throws the refusal
    this.admitted += 1;
    let ticket: RequestTicket | null;
    try {
      ticket = await this.supervisor.acquire(signal, hint);
    } catch (err) {
      this.admitted -= 1;
      // A sleeping model (swap group) not awake within MODEL_WAKE_TIMEOUT: 503 with the wait its wake takes.
      if (err instanceof WakeTimeout) throw errors.notReady(err.message, err.retryAfterS);
      throw err;
    }
    if (ticket === null) {
      this.admitted -= 1;
      throw notReadyError(this.supervisor.snapshot());
    }
    return this.hold(ticket);
  }

  private hold(ticket: RequestTicket): AdmittedRequest {
    let released = false;
    return {
      ticket,
      release: () => {
        if (released) return;
        released = true;
        this.admitted -= 1;
        ticket.end();
      },
    };
  }
}

/**
 * Several models: the runner-wide figures (/ready, /metrics) are every model's added up; a request names its
 * model and goes through that model's own admission, so acquire() here takes the default (first) model's.
 */
export class SummedAdmission implements AdmissionPort {
  constructor(private readonly parts: readonly AdmissionPort[]) {
    if (parts.length === 0) throw new Error("no admissions to sum");
  }

  acquire(signal?: AbortSignal, hint?: RouteHint): Promise<AdmittedRequest> {
    return (this.parts[0] as AdmissionPort).acquire(signal, hint);
  }

  get inFlight(): number {
    return this.parts.reduce((n, a) => n + a.inFlight, 0);
  }

  get queueDepth(): number {
    return this.parts.reduce((n, a) => n + a.queueDepth, 0);
  }

  get capacity(): number {
    return this.parts.reduce((n, a) => n + a.capacity, 0);
  }
}
