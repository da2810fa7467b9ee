// What the replica set needs beyond "least in flight": a FIFO of requests waiting for a free slot on any ready
// replica (WaitQueue), and replicas marked suspect at their first engine failure (Suspects), so a dead engine that
// fails its requests fast can't pull queued requests onto itself before its supervisor notices the exit.
import { type Clock, systemClock, type TimerId } from "./clock.js";
import { type EngineProbe, httpEngineProbe } from "./engine-probe.js";
import type { RouteDecision, RouteHint } from "./routing/route-decision.js";
import type { EngineEndpoint, RequestTicket } from "./types.js";

interface Waiter {
  hint: RouteHint | undefined;
  resolve(ticket: RequestTicket | null): void;
  reject(err: unknown): void;
  off(): void;
}

/** Requests waiting for a slot, in arrival order. A waiter whose signal aborts leaves the queue at once. */
export class WaitQueue {
  private readonly waiters: Waiter[] = [];

  get size(): number {
    return this.waiters.length;
  }

  /** The route hint of the longest waiter (undefined when none waits or it has none). */
  nextHint(): RouteHint | undefined {
    return this.waiters[0]?.hint;
  }

  /** Resolves with the ticket handed over by give(), null by flush(); rejects when the signal aborts. */
  enqueue(signal?: AbortSignal, hint?: RouteHint): Promise<RequestTicket | null> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason ?? new Error("aborted while waiting for a slot"));
        return;
      }
      const onAbort = () => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(signal?.reason ?? new Error("aborted while waiting for a slot"));
      };
      const waiter: Waiter = {
        hint,
        resolve,
        reject,
        off: () => signal?.removeEventListener("abort", onAbort),
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Hands a ticket to the longest waiter; false (the caller ends the ticket) when nobody waits. */
  give(ticket: RequestTicket): boolean {
    const waiter = this.waiters.shift();
    if (waiter === undefined) return false;
    waiter.off();
    waiter.resolve(ticket);
    return true;
  }

  /** Ends every wait with null (no ready replica, or the runner stops): the caller answers not ready. */
  flush(): void {
    for (const waiter of this.waiters.splice(0)) {
      waiter.off();
      waiter.resolve(null);
    }
  }
}

export interface SuspectProbing {
  clock?: Clock;
  probe?: EngineProbe;
  /** How long after a failure (and between failed probes) the engine's /health is asked. */
  probeDelayMs?: number;
}

/**
 * Replicas whose engine failed a request. A suspect replica gets nothing new until its engine is replaced (a new
 * generation: its supervisor noticed and restarted it) or a probe of the same engine's /health answers ok.
 */
export class Suspects {
  private readonly marked = new Map<number, { generation: number; timer: TimerId }>();
  private readonly clock: Clock;
  private readonly prober: EngineProbe;
  private readonly delayMs: number;

  /** `onClear`: a replica is trusted again (its probe answered ok), waiters may take it. */
  constructor(
    private readonly onClear: () => void,
    probing: SuspectProbing = {},
  ) {
    this.clock = probing.clock ?? systemClock;
    this.prober = probing.probe ?? httpEngineProbe;
    this.delayMs = probing.probeDelayMs ?? 1000;
  }

  /** Whether replica `index`, now running engine `generation`, may get new requests. */
  isSuspect(index: number, generation: number): boolean {
    const mark = this.marked.get(index);
    if (mark === undefined) return false;
    if (mark.generation === generation) return true;
    this.clear(index); // a new engine: the mark was for the old one
    return false;
  }

  /** An engine call on this endpoint failed (connection error, 5xx, engine death). */
  mark(endpoint: EngineEndpoint): void {
    const index = endpoint.replica ?? 0;
    const mark = this.marked.get(index);
    if (mark !== undefined && mark.generation >= endpoint.generation) return;
    if (mark !== undefined) this.clock.clearTimeout(mark.timer);
    this.marked.set(index, { generation: endpoint.generation, timer: this.schedule(endpoint) });
  }

  private schedule(endpoint: EngineEndpoint): TimerId {
    return this.clock.setTimeout(() => void this.probe(endpoint), this.delayMs);
  }

  private async probe(endpoint: EngineEndpoint): Promise<void> {
    const index = endpoint.replica ?? 0;
    const result = await this.prober.health(endpoint, this.delayMs);
    const mark = this.marked.get(index);
    if (mark === undefined || mark.generation !== endpoint.generation) return;
    if (result !== "ok") {
      mark.timer = this.schedule(endpoint);
      return;
    }
    this.clear(index);
    this.onClear();
  }

  private clear(index: number): void {
    const mark = this.marked.get(index);
    if (mark !== undefined) this.clock.clearTimeout(mark.timer);
    this.marked.delete(index);
  }

  /** Forgets every mark and its probe (the set stops). */
  clearAll(): void {
    for (const index of [...this.marked.keys()]) this.clear(index);
  }
}

/**
 * The replica's ticket as the gateway holds it: failed() marks the replica suspect, and (Exchange.finish calls
 * failed() before end()) it is marked before its slot frees, so the queue can't take that slot; end() wakes the queue.
 * `divert`: whether there are other replicas to send the traffic to. A lone replica is never marked: a one-off
 * engine error must not refuse everyone for a probe's second; its supervisor handles a real death.
 * `route`: why this replica was chosen.
 */
export function routedTicket(
  ticket: RequestTicket,
  suspects: Suspects,
  freed: () => void,
  divert: boolean,
  route?: RouteDecision,
): RequestTicket {
  return {
    ...(route ? { route } : {}),
    endpoint: ticket.endpoint,
    signal: ticket.signal,
    progress: () => ticket.progress(),
    backpressure: (on) => ticket.backpressure?.(on),
    failed: () => {
      if (divert) suspects.mark(ticket.endpoint);
    },
    end: () => {
      ticket.end();
      freed();
    },
  };
}
