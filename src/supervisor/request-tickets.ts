import type { Clock } from "./clock.js";
import type { EngineEndpoint, RequestTicket } from "./types.js";

/**
 * The requests in flight at the engine. Counts them (IDLE vs OK, drain), and tracks token progress so the
 * hang watchdog can tell a busy engine from a stuck one. A request whose stream the gateway stopped reading for
 * a slow client (backpressure) is owed nothing by the engine: only the others are waited on.
 */
export class RequestTickets {
  private readonly live = new Set<Ticket>();
  private held = 0;
  private lastProgressAt = 0;
  private lastTokenAtMs = 0;
  private idleSinceMs: number;
  private drainWaiters: Array<() => void> = [];

  constructor(private readonly clock: Clock) {
    this.idleSinceMs = clock.now();
  }

  get size(): number {
    return this.live.size;
  }

  issue(endpoint: EngineEndpoint): RequestTicket {
    // The stall clock starts when work appears, not when the previous request ended (or was last read).
    if (this.awaited() === 0) this.lastProgressAt = this.clock.now();
    const ticket = new Ticket(endpoint, this);
    this.live.add(ticket);
    return ticket;
  }

  /**
   * ms since the last token from any in-flight request; null when the engine owes nothing (no request in flight,
   * or every one is held by its client's backpressure).
   */
  stalledFor(): number | null {
    if (this.awaited() === 0) return null;
    return this.clock.now() - this.lastProgressAt;
  }

  /** Requests in flight whose streams the gateway is reading (not held by a slow client). */
  awaited(): number {
    return this.live.size - this.held;
  }

  /** Since when nothing has been in flight (ms); null while requests are in flight. */
  idleSince(): number | null {
    return this.live.size === 0 ? this.idleSinceMs : null;
  }

  /** When any request last got a token (ms; 0 if never). */
  lastTokenAt(): number {
    return this.lastTokenAtMs;
  }

  abortAll(reason: string): void {
    for (const ticket of [...this.live]) ticket.abort(reason);
  }

  /** Resolves when nothing is in flight, or after timeoutMs (real time: drain is an operator wait). */
  drained(timeoutMs: number): Promise<void> {
    if (this.live.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(done, timeoutMs);
      const clock = this.clock;
      function done() {
        clock.clearTimeout(timer);
        resolve();
      }
      this.drainWaiters.push(done);
    });
  }

  /** @internal called by Ticket */
  touched(): void {
    this.lastProgressAt = this.lastTokenAtMs = this.clock.now();
  }

  /** @internal called by Ticket */
  holdChanged(on: boolean): void {
    if (on) {
      this.held++;
      return;
    }
    // Reading resumes: if nothing else was awaited, the stall clock starts now, as for a new request.
    if (this.awaited() === 0) this.lastProgressAt = this.clock.now();
    this.held--;
  }

  /** @internal called by Ticket */
  released(ticket: Ticket, wasHeld: boolean): void {
    this.live.delete(ticket);
    if (wasHeld) this.held--;
    if (this.live.size === 0) {
      this.idleSinceMs = this.clock.now();
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
    }
  }
}

class Ticket implements RequestTicket {
  private readonly controller = new AbortController();
  private ended = false;
  private held = false;

  constructor(
    readonly endpoint: EngineEndpoint,
    private readonly owner: RequestTickets,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  progress(): void {
    if (!this.ended) this.owner.touched();
  }

  backpressure(on: boolean): void {
    if (this.ended || this.held === on) return;
    this.held = on;
    this.owner.holdChanged(on);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.owner.released(this, this.held);
  }

  abort(reason: string): void {
    if (!this.controller.signal.aborted) this.controller.abort(new Error(reason));
    // An aborted request no longer occupies the engine; the gateway still calls end(), which is then a no-op.
    this.end();
  }
}
