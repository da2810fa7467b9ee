// The primary's side of admission with several HTTP workers: one Admission (MAX_NUM_SEQS per ready replica +
// QUEUE_SIZE, the gateway's FIFO) serves the slot requests of every worker, so the bound holds for the runner
// as a whole. Each slot given to a worker is a real supervisor ticket held here until the worker gives it back;
// a worker that dies gives back everything it held or waited for. Several models: one Admission per model (its
// MAX_NUM_SEQS per ready replica + QUEUE_SIZE over that model's gate, whose acquire wakes a sleeping model), and a
// slot request names its model by index; ids stay one space per worker, so the held slots need no model.
import type { AdmissionPort, AdmittedRequest } from "../../gateway/exchange/admission.js";
import { toGatewayError } from "../../gateway/http/error-response.js";
import { GatewayError } from "../../gateway/http/gateway-error.js";
import type { RouteHint } from "../../supervisor/routing/route-decision.js";
import { hintFromWire, type MessageTable, type SlotReply, type SlotRequest, toWire } from "./messages.js";

/** The primary's handlers of one worker's messages about slots. */
export function slotRequests(host: AdmissionHost, worker: number): MessageTable<SlotRequest> {
  return {
    "slot-request": (m) => host.acquire(worker, m.id, hintFromWire(m), m.model),
    "slot-cancel": (m) => host.cancel(worker, m.id),
    "slot-release": (m) => host.release(worker, m.id),
    "slot-failed": (m) => host.failed(worker, m.id),
    progress: (m) => host.progress(worker, m.ids),
    backpressure: (m) => host.backpressure(worker, m.held, m.resumed),
  };
}

interface WorkerSlots {
  waiting: Map<number, AbortController>;
  held: Map<number, { request: AdmittedRequest; unlisten: () => void }>;
}

export class AdmissionHost {
  private readonly workers = new Map<number, WorkerSlots>();

  constructor(
    private readonly admission: AdmissionPort,
    private readonly send: (worker: number, message: SlotReply) => void,
    /** Several models: each model's admission, in the order of WorkerInit.models (a slot request's `model`). */
    private readonly models: readonly AdmissionPort[] = [],
  ) {}

  /**
   * A worker asks for a slot: it gets "slot-granted" (with the engine and the router's decision) or "slot-refused"
   * (the GatewayError to answer). The router decides here, where the slots are. `model`: the index of the model
   * (several models); absent: the runner's one admission.
   */
  acquire(worker: number, id: number, hint?: RouteHint, model?: number): void {
    const admission = model === undefined ? this.admission : this.models[model];
    if (admission === undefined) {
      const error = new GatewayError(404, "model_not_found", `No model ${model} is served here.`);
      this.send(worker, { type: "slot-refused", id, error: toWire(error) });
      return;
    }
    const slots = this.slotsOf(worker);
    const cancel = new AbortController();
    slots.waiting.set(id, cancel);
    admission.acquire(cancel.signal, hint).then(
      (request) => {
        slots.waiting.delete(id);
        if (cancel.signal.aborted || this.workers.get(worker) !== slots) {
          request.release(); // the client left (or the worker died) while the grant was on its way
          return;
        }
        const signal = request.ticket.signal;
        const onAbort = () => {
          const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
          this.send(worker, { type: "slot-aborted", id, reason });
        };
        signal.addEventListener("abort", onAbort, { once: true });
        slots.held.set(id, { request, unlisten: () => signal.removeEventListener("abort", onAbort) });
        const route = request.ticket.route;
        this.send(worker, {
          type: "slot-granted",
          id,
          endpoint: request.ticket.endpoint,
          ...(route ? { route } : {}),
        });
        if (signal.aborted) onAbort();
      },
      (err: unknown) => {
        slots.waiting.delete(id);
        if (cancel.signal.aborted) return; // nobody waits for this answer
        this.send(worker, { type: "slot-refused", id, error: toWire(toGatewayError(err)) });
      },
    );
  }

  /** The worker's client went away: a waiting request leaves the queue, a granted one frees its slot. */
  cancel(worker: number, id: number): void {
    const slots = this.workers.get(worker);
    if (!slots) return;
    const waiting = slots.waiting.get(id);
    if (waiting) {
      slots.waiting.delete(id);
      waiting.abort(new Error("the client went away while queued"));
      return;
    }
    this.release(worker, id);
  }

  release(worker: number, id: number): void {
    const held = this.workers.get(worker)?.held;
    const slot = held?.get(id);
    if (!slot) return;
    held?.delete(id);
    slot.unlisten();
    slot.request.release();
  }

  /** The engine failed this request: its replica takes nothing new until it proves itself again. */
  failed(worker: number, id: number): void {
    this.workers.get(worker)?.held.get(id)?.request.ticket.failed?.();
  }

  progress(worker: number, ids: readonly number[]): void {
    const held = this.workers.get(worker)?.held;
    if (!held) return;
    for (const id of ids) held.get(id)?.request.ticket.progress();
  }

  /** The worker stopped (held) or resumed reading these tickets' engine streams for slow clients. */
  backpressure(worker: number, heldIds: readonly number[], resumedIds: readonly number[]): void {
    const held = this.workers.get(worker)?.held;
    if (!held) return;
    for (const id of heldIds) held.get(id)?.request.ticket.backpressure?.(true);
    for (const id of resumedIds) held.get(id)?.request.ticket.backpressure?.(false);
  }

  /** A worker exited: every slot it held or waited for is given back. */
  dropWorker(worker: number): void {
    const slots = this.workers.get(worker);
    if (!slots) return;
    this.workers.delete(worker);
    for (const cancel of slots.waiting.values()) cancel.abort(new Error("the HTTP worker exited"));
    for (const slot of slots.held.values()) {
      slot.unlisten();
      slot.request.release();
    }
  }

  private slotsOf(worker: number): WorkerSlots {
    let slots = this.workers.get(worker);
    if (!slots) {
      slots = { waiting: new Map(), held: new Map() };
      this.workers.set(worker, slots);
    }
    return slots;
  }
}
