import { errors } from "../http/gateway-error.js";
import { Exchange, type ExchangeDeps, type ExchangeInit } from "./exchange.js";

/** The exchanges in flight, so a shutdown can end every open stream cleanly. */
export class ExchangeTracker {
  private readonly live = new Set<Exchange>();

  constructor(private readonly deps: ExchangeDeps) {}

  get size(): number {
    return this.live.size;
  }

  /** A new exchange; a 503 when the ledger cannot record it (no paid request is served unrecorded). */
  begin(init: ExchangeInit): Exchange {
    const problem = this.deps.ledger.unwritable?.() ?? null;
    if (problem !== null) throw errors.ledgerUnwritable(problem);
    const ex = new Exchange(this.deps, init, (done) => this.live.delete(done));
    this.live.add(ex);
    return ex;
  }

  /** Aborts every upstream request: streams end with their error frame and [DONE], each gets its row. */
  abortAll(reason: string): void {
    for (const ex of [...this.live]) ex.abort("shutdown", reason);
  }
}
