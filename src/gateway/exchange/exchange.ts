import { randomUUID } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { Logger } from "../../log/logger.js";
import type { GatewayMetrics } from "../../metrics/gateway-metrics.js";
import type { Ledger, LedgerStatus } from "../../pricing/ledger-types.js";
import { type PriceRate, priceTokens } from "../../pricing/price.js";
import { NOOP_REQUEST_TRACE, type RequestTrace } from "../../telemetry/request-trace.js";
import { errors } from "../http/gateway-error.js";
import { wireStatus } from "../http/wire-status.js";
import type { AdmittedRequest } from "./admission.js";
import { type AbortCause, describeAbortReason, onResponseGone, onSignalAbort } from "./client-abort.js";

export type { AbortCause } from "./client-abort.js";

const DONE: Promise<void> = Promise.resolve();

export interface ExchangeDeps {
  ledger: Ledger;
  metrics: GatewayMetrics;
  logger: Logger;
  clock: () => number;
  rate: PriceRate;
  model: string;
}

export interface ExchangeInit {
  route: string;
  stream: boolean;
  /** The tokens the quote is for: the request's max_tokens (or the engine's limit when it sent none). */
  maxTokens: number;
  /** The request's trace (default: not traced). */
  trace?: RequestTrace;
}

export interface FinishInput {
  status: LedgerStatus;
  httpStatus: number;
  promptTokens?: number;
  completionTokens?: number;
  error?: string | null;
  /** Why the engine stopped, when the dialect saw it (the request's trace). */
  finishReason?: string | null;
}

/**
 * One priced request from arrival to its ledger row: owns the upstream abort, the ticket and slot, the token
 * timings, and finishes exactly once (ledger row, metrics, ticket end), whatever path ends it.
 */
export class Exchange {
  readonly id = randomUUID().replace(/-/g, "");
  readonly arrivedAt: number;
  readonly quote: number;
  private upstream = new AbortController();
  abortCause: AbortCause | null = null;
  abortReason: string | null = null;
  finished = false;
  /** Whether the ledger row was written (false until it is durable, or when the write failed). */
  recorded = false;
  /** Settles once the ledger row is durable or failed (`recorded` says which): at finish, or its group commit. */
  settled: Promise<void> = DONE;
  /** How it ended, once finished. */
  outcome: LedgerStatus | null = null;
  /** The Live Runner session it was proxied for (Livepeer-Session-Id), if any. */
  sessionId: string | null = null;
  failure: string | null = null;
  readonly trace: RequestTrace;
  private admitted: AdmittedRequest | null = null;
  private firstTokenAt: number | null = null;
  private lastTokenAt: number | null = null;
  private readonly detach: Array<() => void> = [];
  /** The admitted ticket's abort listener (its engine's death): dropped when the request moves (retarget). */
  private offTicket: (() => void) | null = null;

  constructor(
    private readonly deps: ExchangeDeps,
    readonly init: ExchangeInit,
    private readonly onDone: (ex: Exchange) => void,
  ) {
    this.arrivedAt = deps.clock();
    this.quote = priceTokens(init.maxTokens, deps.rate);
    this.trace = init.trace ?? NOOP_REQUEST_TRACE;
  }

  /** The upstream request's abort (a new one after retarget()). */
  get upstreamAbort(): AbortController {
    return this.upstream;
  }

  get currency(): string {
    return this.deps.rate.currency;
  }

  /** Ties the exchange to its admission: the engine's death (ticket.signal) aborts the upstream request. */
  attach(admitted: AdmittedRequest): void {
    this.admitted = admitted;
    const route = admitted.ticket.route;
    if (route) this.deps.metrics.routeDecision(route.policy, route.reason);
    this.offTicket = onSignalAbort(admitted.ticket.signal, (reason) => this.abort("engine", reason));
  }

  /**
   * The engine failed this request before answering anything (its replica died or refused the connection) and
   * another replica may take it: the ticket ends as failed (its replica gets nothing new until it is checked,
   * replica-router.ts) and the slot is freed; an engine abort is forgotten, with a new upstream signal. The
   * caller admits the request again. Not after a client abort or a shutdown, nor once finished.
   */
  retarget(): boolean {
    if (this.finished || this.admitted === null) return false;
    if (this.abortCause !== null && this.abortCause !== "engine") return false;
    this.offTicket?.();
    this.offTicket = null;
    this.admitted.ticket.failed?.();
    this.admitted.release();
    this.admitted = null;
    if (this.abortCause === "engine") {
      this.abortCause = null;
      this.abortReason = null;
      this.upstream = new AbortController();
    }
    return true;
  }

  /** The client's request signal: a disconnect aborts the upstream request at once (client-abort.ts). */
  watchClient(signal: AbortSignal): void {
    this.detach.push(onSignalAbort(signal, (reason) => this.abort("client", reason)));
  }

  /** The Node response closing before it finished: the client went away (client-abort.ts). */
  watchResponse(outgoing: ServerResponse): void {
    this.detach.push(
      onResponseGone(outgoing, () => this.abort("client", "Client connection prematurely closed.")),
    );
  }

  /** Ends the upstream request early, once; the first cause wins. The whole path: client-abort.ts. */
  abort(cause: AbortCause, reason?: unknown): void {
    if (this.finished || this.abortCause !== null) return;
    this.abortCause = cause;
    this.abortReason = describeAbortReason(reason);
    this.upstream.abort(new Error(`request aborted (${cause}): ${this.abortReason}`));
  }

  /** Bytes arrived from the engine for this request (the supervisor's hang watchdog watches this). */
  progress(): void {
    this.admitted?.ticket.progress();
  }

  /** The gateway stopped (true) or resumed (false) reading the engine for a slow client: not an engine stall. */
  backpressure(on: boolean): void {
    this.admitted?.ticket.backpressure?.(on);
  }

  /** `count` tokens relayed to the client now. */
  tokens(count: number): void {
    if (count <= 0) return;
    const now = this.deps.clock();
    if (this.firstTokenAt === null) {
      this.firstTokenAt = now;
      this.deps.metrics.timeToFirstToken(this.init.route, (now - this.arrivedAt) / 1000);
      this.trace.firstToken();
    } else if (this.lastTokenAt !== null) {
      this.deps.metrics.interTokenGap(this.init.route, (now - this.lastTokenAt) / 1000);
    }
    this.lastTokenAt = now;
  }

  /**
   * Writes the ledger row, reports metrics, ends the ticket. Later calls do nothing. "now": the row is durable on
   * return. "grouped": the row goes into this round's group commit (group-commit.ts) when the ledger has one;
   * `settled` says when it is durable, and the caller sends its final byte only then.
   */
  finish(input: FinishInput, commit: "now" | "grouped" = "now"): void {
    if (this.finished) return;
    this.finished = true;
    this.outcome = input.status;
    this.failure = input.error ?? null;
    for (const d of this.detach) d();
    this.offTicket?.();
    const now = this.deps.clock();
    const completionTokens = input.completionTokens ?? 0;
    const usagePrice = input.status === "rejected" ? 0 : priceTokens(completionTokens, this.deps.rate);
    const row = {
      id: this.id,
      ts: new Date(this.arrivedAt).toISOString(),
      route: this.init.route,
      model: this.deps.model,
      stream: this.init.stream,
      maxTokens: this.init.maxTokens,
      promptTokens: input.promptTokens ?? 0,
      completionTokens,
      quote: this.quote,
      usagePrice,
      currency: this.deps.rate.currency,
      status: input.status,
      httpStatus: wireStatus(this.init.route, input.httpStatus), // what the client was sent
      ttftMs: this.firstTokenAt === null ? null : this.firstTokenAt - this.arrivedAt,
      durationMs: now - this.arrivedAt,
      error: input.error ?? null,
      sessionId: this.sessionId,
    };
    // A non-streaming answer whose row failed is withheld (the route checks `recorded`); a stream has already gone
    // out. Either way the operator sees the lost row in the log.
    const lost = (err: unknown) => this.deps.logger.error({ err, row }, "could not write the ledger row");
    const grouped = commit === "grouped" ? this.deps.ledger.recordGrouped?.(row) : undefined;
    if (grouped) {
      this.settled = grouped.then(() => {
        this.recorded = true;
      }, lost);
    } else {
      try {
        this.deps.ledger.record(row);
        this.recorded = true;
      } catch (err) {
        lost(err);
      }
    }
    this.deps.metrics.finished({
      route: this.init.route,
      outcome: input.status,
      promptTokens: row.promptTokens,
      completionTokens,
      quote: this.quote,
      usagePrice,
      currency: row.currency,
      e2eSeconds: input.status === "rejected" ? null : row.durationMs / 1000,
    });
    // The engine failed it: its replica gets nothing new before its slot frees (replica-router.ts).
    if (input.status === "engine_error") this.admitted?.ticket.failed?.();
    this.admitted?.release();
    this.trace.finished(input);
    this.onDone(this);
  }
}

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
