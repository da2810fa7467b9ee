import type { LedgerRow } from "./ledger-types.js";

/** Runs `fn` once the current round of I/O callbacks is done (setImmediate; tests pass their own). */
export type Scheduler = (fn: () => void) => void;

const nextCheckPhase: Scheduler = (fn) => {
  setImmediate(fn);
};

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
  /** Transactions committed (tests and the bench read it). */
  commits = 0;

  constructor(
    private readonly commit: (rows: readonly LedgerRow[]) => void,
    private readonly schedule: Scheduler = nextCheckPhase,
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

  /** Commits what is queued now (the scheduled round, or before the ledger closes). */
  flush(): void {
    this.scheduled = false;
    if (this.rows.length === 0) return;
    const rows = this.rows;
    const waiters = this.waiters;
    this.rows = [];
    this.waiters = [];
    try {
      this.commit(rows);
      this.commits++;
    } catch (err) {
      for (const w of waiters) w.reject(err);
      return;
    }
    for (const w of waiters) w.resolve();
  }
}
