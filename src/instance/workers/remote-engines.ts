// The worker's side of the engines (GATEWAY_WORKERS > 1): the routes see the usual SupervisorView and
// AdmissionPort, but every slot is asked of the primary, whose one Admission counts the requests of all workers,
// so no replica ever gets more than its MAX_NUM_SEQS (plus its share of QUEUE_SIZE) however many workers serve.
// The primary's state arrives as a view (pushed on every change); tickets' progress, and whether a slow client
// holds them (backpressure), go back in batches for the hang watchdog, and an engine's death comes back as an
// abort of the tickets it held.

import type { AdmissionPort, AdmittedRequest } from "../../gateway/exchange/admission.js";
import { GatewayError } from "../../gateway/http/gateway-error.js";
import type {
  EngineEndpoint,
  ReplicaView,
  RequestTicket,
  SupervisorEvent,
  SupervisorSnapshot,
  SupervisorView,
} from "../../supervisor/types.js";
import type { EnginesView, FromWorker, WireGatewayError } from "./worker-messages.js";

/** How often a worker tells the primary which tickets made progress or changed hold (the hang watchdog counts in seconds). */
export const PROGRESS_FLUSH_MS = 100;

interface Waiting {
  resolve(request: AdmittedRequest): void;
  reject(err: unknown): void;
}

export class RemoteEngines implements SupervisorView {
  private view: EnginesView;
  private nextId = 0;
  private readonly waiting = new Map<number, Waiting>();
  private readonly held = new Map<number, RemoteTicket>();
  private progressed = new Set<number>();
  /** Tickets whose hold by a slow client changed since the last flush: the latest state of each. */
  private pressure = new Map<number, boolean>();
  private progressTimer: NodeJS.Timeout | null = null;
  private readonly listeners = new Set<(event: SupervisorEvent) => void>();
  /** Why the primary can no longer be asked (set once its channel closed). */
  private gone: string | null = null;

  constructor(
    initial: EnginesView,
    private readonly post: (message: FromWorker) => void,
  ) {
    this.view = initial;
    this.admission = this.makeAdmission();
  }

  // ---- from the primary ----

  setView(view: EnginesView): void {
    const from = this.view.snapshot.state;
    this.view = view;
    if (from !== view.snapshot.state) {
      const event: SupervisorEvent = {
        type: "state",
        from,
        to: view.snapshot.state,
        snapshot: view.snapshot,
      };
      for (const listener of this.listeners) listener(event);
    }
  }

  granted(id: number, endpoint: EngineEndpoint): void {
    const waiting = this.waiting.get(id);
    if (!waiting) return; // cancelled meanwhile: the primary frees the slot on our "cancel"
    this.waiting.delete(id);
    const ticket = new RemoteTicket(id, endpoint, this);
    this.held.set(id, ticket);
    let released = false;
    waiting.resolve({
      ticket,
      release: () => {
        if (released) return;
        released = true;
        ticket.end();
      },
    });
  }

  refused(id: number, error: WireGatewayError): void {
    const waiting = this.waiting.get(id);
    if (!waiting) return;
    this.waiting.delete(id);
    waiting.reject(fromWire(error));
  }

  aborted(id: number, reason: string): void {
    this.held.get(id)?.abort(reason);
  }

  /** The primary is gone: nothing can be admitted or finished through it any more. */
  disconnected(reason: string): void {
    this.gone = reason;
    for (const [id, waiting] of this.waiting) {
      this.waiting.delete(id);
      waiting.reject(new GatewayError(503, "engine_unavailable", reason, { retryAfter: 5 }));
    }
    for (const ticket of [...this.held.values()]) ticket.abort(reason);
  }

  // ---- AdmissionPort ----

  /** The routes' admission: each slot is the primary's. */
  readonly admission: AdmissionPort;

  private makeAdmission(): AdmissionPort {
    const engines = this;
    return {
      acquire: (signal, affinity) => engines.acquireSlot(signal, affinity),
      get inFlight() {
        return engines.view.admission.inFlight;
      },
      get queueDepth() {
        return engines.view.admission.queueDepth;
      },
      get capacity() {
        return engines.view.admission.capacity;
      },
    };
  }

  private acquireSlot(signal?: AbortSignal, affinity?: string): Promise<AdmittedRequest> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.gone !== null) {
      return Promise.reject(new GatewayError(503, "engine_unavailable", this.gone, { retryAfter: 5 }));
    }
    const id = ++this.nextId;
    return new Promise<AdmittedRequest>((resolve, reject) => {
      const onAbort = () => {
        if (!this.waiting.delete(id)) return;
        this.post({ t: "cancel", id });
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.set(id, {
        resolve: (request) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(request);
        },
        reject: (err) => {
          signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
      });
      this.post(affinity === undefined ? { t: "acquire", id } : { t: "acquire", id, key: affinity });
    });
  }

  // ---- SupervisorView ----

  snapshot(): SupervisorSnapshot {
    return this.view.snapshot;
  }

  /** Slots are only given by the primary (acquire); a synchronous ticket cannot be had here. */
  admit(): RequestTicket | null {
    return null;
  }

  engineEndpoint(): EngineEndpoint | null {
    return this.view.engineEndpoint;
  }

  on(listener: (event: SupervisorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  readyEngines(): number {
    return this.view.readyEngines;
  }

  readySlots(): number {
    return this.view.readySlots;
  }

  replicaEndpoints(): Array<{ replica: number; endpoint: EngineEndpoint }> {
    return this.view.replicaEndpoints;
  }

  replicaSnapshots(): ReplicaView[] {
    return this.view.replicaSnapshots;
  }

  // ---- from tickets ----

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
    this.post({ t: "failed", id });
  }

  /** @internal */
  ticketEnded(id: number): void {
    if (!this.held.delete(id)) return;
    this.progressed.delete(id);
    this.pressure.delete(id);
    this.post({ t: "release", id });
  }

  private flushSoon(): void {
    if (this.progressTimer) return;
    this.progressTimer = setTimeout(() => this.flushProgress(), PROGRESS_FLUSH_MS);
    this.progressTimer.unref();
  }

  private flushProgress(): void {
    this.progressTimer = null;
    if (this.progressed.size > 0) {
      const ids = [...this.progressed];
      this.progressed = new Set();
      this.post({ t: "progress", ids });
    }
    if (this.pressure.size > 0) {
      const held: number[] = [];
      const resumed: number[] = [];
      for (const [id, on] of this.pressure) (on ? held : resumed).push(id);
      this.pressure = new Map();
      this.post({ t: "backpressure", held, resumed });
    }
  }
}

class RemoteTicket implements RequestTicket {
  private readonly controller = new AbortController();
  private ended = false;

  constructor(
    private readonly id: number,
    readonly endpoint: EngineEndpoint,
    private readonly owner: RemoteEngines,
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

export function toWire(error: GatewayError): WireGatewayError {
  return {
    status: error.status,
    code: error.code,
    message: error.message,
    ...(error.retryAfter !== undefined ? { retryAfter: error.retryAfter } : {}),
  };
}

export function fromWire(error: WireGatewayError): GatewayError {
  return new GatewayError(
    error.status,
    error.code,
    error.message,
    error.retryAfter !== undefined ? { retryAfter: error.retryAfter } : {},
  );
}
