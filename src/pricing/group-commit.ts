import type { LedgerRow } from "./ledger-types.js";

/** Runs `fn` once the current round of I/O callbacks is done (setImmediate; tests pass their own). */
export type Scheduler = (fn: () => void) => void;

const nextCheckPhase: Scheduler = (fn) => {
  setImmediate(fn);
};

/** A commit that failed only because another process held the write lock: try again shortly. */
export interface BusyRetry {
  isBusy(err: unknown): boolean;
  /** Give up (reject the rows) when the lock stayed taken this long. */
  maxWaitMs: number;
}

const RETRY_FIRST_MS = 1;
const RETRY_MAX_STEP_MS = 16;

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Group commit for the ledger: rows of requests that end in the same round of the event loop (every stream whose
 * last engine read arrived in one poll phase) are committed in one transaction, at the end of that round, instead
 * of one commit each. Each caller gets a promise that settles once its row is durable (or the commit failed), and
 * sends its response's final byte only then: a finished request's row is still committed before its final byte.
 * A row whose final byte never went out (the process was killed in between) may be lost; the client then never
 * saw the request finish.
 */
export class GroupCommit {
  private rows: LedgerRow[] = [];
  private waiters: Waiter[] = [];
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private busySince: number | null = null;
  private retryStepMs = RETRY_FIRST_MS;
  /** Transactions committed (tests and the bench read it). */
  commits = 0;

  constructor(
    private readonly commit: (rows: readonly LedgerRow[]) => void,
    private readonly schedule: Scheduler = nextCheckPhase,
    /**
     * Several processes writing one ledger (GATEWAY_WORKERS): a commit that meets the other writers' lock is
     * retried 1, 2, 4 … 16 ms later, without blocking the event loop (SQLite's own busy wait would sleep in it
     * and stall every stream of the process), and the rows that arrive meanwhile join the same commit.
     */
    private readonly busy: BusyRetry | null = null,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Queues the row for this round's commit; resolves once it is durable, rejects when the commit failed. */
  add(row: LedgerRow): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.rows.push(row);
      this.waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        this.schedule(() => this.flush());
      }
    });
  }

  /**
   * Commits what is queued now (the scheduled round, or before the ledger closes). `final`: no retry is
   * scheduled for a busy lock (the ledger is closing; its caller made the wait blocking).
   */
  flush(final = false): void {
    this.scheduled = false;
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (this.rows.length === 0) return;
    const rows = this.rows;
    const waiters = this.waiters;
    this.rows = [];
    this.waiters = [];
    try {
      this.commit(rows);
      this.commits++;
    } catch (err) {
      if (!final && this.busy?.isBusy(err) && this.retryBusy(rows, waiters)) return;
      this.busySince = null;
      for (const w of waiters) w.reject(err);
      return;
    }
    this.busySince = null;
    this.retryStepMs = RETRY_FIRST_MS;
    for (const w of waiters) w.resolve();
  }

  /** Puts the rows back (first in line) and tries again shortly; false once the lock stayed taken too long. */
  private retryBusy(rows: LedgerRow[], waiters: Waiter[]): boolean {
    const now = this.now();
    this.busySince ??= now;
    if (now - this.busySince > (this.busy as BusyRetry).maxWaitMs) return false;
    this.rows = [...rows, ...this.rows];
    this.waiters = [...waiters, ...this.waiters];
    this.scheduled = true; // rows added meanwhile wait for the retry
    const step = this.retryStepMs;
    this.retryStepMs = Math.min(step * 2, RETRY_MAX_STEP_MS);
    this.retryTimer = setTimeout(() => this.flush(), step);
    return true;
  }
}
