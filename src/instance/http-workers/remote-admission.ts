// A worker's admission (GATEWAY_WORKERS > 1): every slot is asked of the primary, whose one Admission counts the
// requests of all workers, so no replica ever gets more than its MAX_NUM_SEQS (plus its share of QUEUE_SIZE)
// however many workers serve. Tickets' progress, and whether a slow client holds them (backpressure), go back in
// batches for the hang watchdog; an engine's death comes back as the abort of the tickets it held. Several models:
// one RemoteAdmission per worker (one id space, one set of tickets), and a port per model (`forModel`) whose slot
// requests name the model.
import type { AdmissionPort, AdmittedRequest } from "../../gateway/exchange/admission.js";
import { GatewayError } from "../../gateway/http/gateway-error.js";
import type { RouteDecision, RouteHint } from "../../supervisor/routing/route-decision.js";
import type { EngineEndpoint, RequestTicket } from "../../supervisor/types.js";
import {
  type AdmissionFigures,
  fromWire,
  hintToWire,
  type MessageTable,
  type SlotReply,
  type SlotRequest,
} from "./messages.js";
import { PendingReplies } from "./pending-replies.js";

/** How often a worker tells the primary which tickets made progress or changed hold (the hang watchdog counts in seconds). */
export const PROGRESS_FLUSH_MS = 100;

/** The worker's handlers of the primary's answers about slots. */
export function slotReplies(admission: RemoteAdmission): MessageTable<SlotReply> {
  return {
    "slot-granted": (m) => admission.granted(m.id, m.endpoint, m.route),
    "slot-refused": (m) => admission.refused(m.id, fromWire(m.error)),
    "slot-aborted": (m) => admission.aborted(m.id, m.reason),
  };
}

export class RemoteAdmission implements AdmissionPort {
  private readonly asked = new PendingReplies<AdmittedRequest>();
  private readonly held = new Map<number, RemoteTicket>();
  private progressed = new Set<number>();
  /** Tickets whose hold by a slow client changed since the last flush: the latest state of each. */
  private pressure = new Map<number, boolean>();
  private flushTimer: NodeJS.Timeout | null = null;
  /** Why the primary can no longer be asked (set once its channel closed). */
  private gone: string | null = null;

  constructor(
    /** The primary's figures, as last pushed (RemoteReplicas.admission). */
    private readonly figures: () => AdmissionFigures,
    private readonly post: (message: SlotRequest) => void,
  ) {}

  get inFlight(): number {
    return this.figures().inFlight;
  }

  get queueDepth(): number {
    return this.figures().queueDepth;
  }

  get capacity(): number {
    return this.figures().capacity;
  }

  acquire(signal?: AbortSignal, hint?: RouteHint): Promise<AdmittedRequest> {
    return this.ask(signal, hint, undefined);
  }

  /**
   * Several models: the admission of the model at `model` in WorkerInit.models (its slots are asked of that model's
   * admission in the primary); `figures`: that model's, as last pushed.
   */
  forModel(model: number, figures: () => AdmissionFigures): AdmissionPort {
    return {
      acquire: (signal, hint) => this.ask(signal, hint, model),
      get inFlight() {
        return figures().inFlight;
      },
      get queueDepth() {
        return figures().queueDepth;
      },
      get capacity() {
        return figures().capacity;
      },
    };
  }

  /** A slot request under a new id; `model` only with several models (one model's message is as it always was). */
  private ask(
    signal: AbortSignal | undefined,
    hint: RouteHint | undefined,
    model: number | undefined,
  ): Promise<AdmittedRequest> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.gone !== null) {
      return Promise.reject(new GatewayError(503, "engine_unavailable", this.gone, { retryAfter: 5 }));
    }
    const send =
      model === undefined
        ? (id: number) => this.post({ type: "slot-request", id, ...hintToWire(hint) })
        : (id: number) => this.post({ type: "slot-request", id, ...hintToWire(hint), model });
    return this.asked.ask(send, {
      ...(signal ? { signal } : {}),
      onAbort: (id) => this.post({ type: "slot-cancel", id }),
    });
  }

  granted(id: number, endpoint: EngineEndpoint, route?: RouteDecision): void {
    if (!this.asked.has(id)) return; // cancelled meanwhile: the primary frees the slot on our "slot-cancel"
    const ticket = new RemoteTicket(id, endpoint, this, route);
    this.held.set(id, ticket);
    let released = false;
    this.asked.reply(id, {
      ticket,
      release: () => {
        if (released) return;
        released = true;
        ticket.end();
      },
    });
  }

  refused(id: number, error: GatewayError): void {
    this.asked.fail(id, error);
  }

  aborted(id: number, reason: string): void {
    this.held.get(id)?.abort(reason);
  }

  /** The primary is gone: nothing can be admitted or finished through it any more. */
  disconnected(reason: string): void {
    this.gone = reason;
    this.asked.failAll(new GatewayError(503, "engine_unavailable", reason, { retryAfter: 5 }));
    for (const ticket of [...this.held.values()]) ticket.abort(reason);
  }

  /** @internal */
  ticketProgress(id: number): void {
    this.progressed.add(id);
    this.flushSoon();
  }

  /** @internal */
  ticketBackpressure(id: number, on: boolean): void {
    this.pressure.set(id, on);
    this.flushSoon();
  }

  /** @internal */
  ticketFailed(id: number): void {
    this.post({ type: "slot-failed", id });
  }

  /** @internal */
  ticketEnded(id: number): void {
    if (!this.held.delete(id)) return;
    this.progressed.delete(id);
    this.pressure.delete(id);
    this.post({ type: "slot-release", id });
  }

  private flushSoon(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => this.flush(), PROGRESS_FLUSH_MS);
    this.flushTimer.unref();
  }

  private flush(): void {
    this.flushTimer = null;
    if (this.progressed.size > 0) {
      const ids = [...this.progressed];
      this.progressed = new Set();
      this.post({ type: "progress", ids });
    }
    if (this.pressure.size > 0) {
      const held: number[] = [];
      const resumed: number[] = [];
      for (const [id, on] of this.pressure) (on ? held : resumed).push(id);
      this.pressure = new Map();
      this.post({ type: "backpressure", held, resumed });
    }
  }
}

class RemoteTicket implements RequestTicket {
  private readonly controller = new AbortController();
  private ended = false;

  constructor(
    private readonly id: number,
    readonly endpoint: EngineEndpoint,
    private readonly owner: RemoteAdmission,
    readonly route?: RouteDecision,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  progress(): void {
    if (!this.ended) this.owner.ticketProgress(this.id);
  }

  backpressure(on: boolean): void {
    if (!this.ended) this.owner.ticketBackpressure(this.id, on);
  }

  failed(): void {
    if (!this.ended) this.owner.ticketFailed(this.id);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.owner.ticketEnded(this.id);
  }

  abort(reason: string): void {
    if (!this.controller.signal.aborted) this.controller.abort(new Error(reason));
  }
}
