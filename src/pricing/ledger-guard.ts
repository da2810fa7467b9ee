import { statfs } from "node:fs/promises";
import type { Logger } from "../log/logger.js";
import { GroupCommit } from "./group-commit.js";
import type { SessionTotals } from "./ledger.js";
import type { Ledger, LedgerRow, UsageSummaryRow } from "./ledger-types.js";

/** What the guard needs of the ledger it protects (SqliteLedger). */
export interface GuardedStore extends Ledger {
  /** A real write (a commit to the database file), so a full or read-only disk shows before a paid row fails. */
  probeWrite(): void;
  sessionTotals(): SessionTotals;
  /** Several rows in one transaction, durable on return. */
  recordMany(rows: readonly LedgerRow[]): void;
  /** How long a write waits, blocking, for another process's lock (ms). */
  setBusyTimeout?(ms: number): void;
}

export interface LedgerGuardOptions {
  /** The directory holding the ledger file: its filesystem's free space is watched. */
  dir: string;
  logger: Logger;
  /** How often the disk is checked (ms); while the ledger is unwritable, how often recovery is tried. */
  intervalMs?: number;
  /** Below this many free bytes the disk counts as full: requests are refused before a row can fail. */
  minFreeBytes?: number;
  /** Free bytes for unprivileged users on the filesystem holding `dir` (tests pass a fake). */
  freeBytes?: (dir: string) => Promise<number>;
  /**
   * Other processes write the same ledger (GATEWAY_WORKERS): the store was opened with no busy wait, and a
   * write that meets their lock is retried later instead of failing or blocking. Absent: this process is the
   * only writer.
   */
  sharedWriters?: boolean;
}

/** How long a group commit keeps retrying against other writers' lock before its rows fail. */
export const LEDGER_BUSY_MAX_WAIT_MS = 5_000;

/** SQLite's "database is locked": another connection holds the write lock. Not a disk problem. */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === "SQLITE_BUSY" || (typeof code === "string" && code.startsWith("SQLITE_BUSY_"));
}

export const LEDGER_CHECK_INTERVAL_MS = 1_000;
// A few hundred rows' worth of WAL frames (each commit appends a 4 KiB page and a header), plus a checkpoint.
export const LEDGER_MIN_FREE_BYTES = 1024 * 1024;

async function statfsFree(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === "string" ? `${e.code}: ` : "";
  return `${code}${typeof e?.message === "string" ? e.message : String(err)}`;
}

/**
 * The usage ledger, refusing to take paid work it could not record: a row that fails to commit (disk full,
 * read-only, I/O error), or a disk with less than `minFreeBytes` free, turns the ledger *unwritable*, and
 * `unwritable()` says why, so the gateway refuses new requests (503/500) instead of serving them unbilled.
 * Every `intervalMs` it checks the disk and tries a real write; the first that succeeds (with space to spare)
 * turns it writable again. Each change is logged once, with the reason and the fix.
 */
export class LedgerGuard implements Ledger {
  private problem: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  private readonly intervalMs: number;
  private readonly minFreeBytes: number;
  private readonly freeBytes: (dir: string) => Promise<number>;
  private readonly group: GroupCommit;

  constructor(
    private readonly store: GuardedStore,
    private readonly options: LedgerGuardOptions,
  ) {
    this.intervalMs = options.intervalMs ?? LEDGER_CHECK_INTERVAL_MS;
    this.minFreeBytes = options.minFreeBytes ?? LEDGER_MIN_FREE_BYTES;
    this.freeBytes = options.freeBytes ?? statfsFree;
    this.group = new GroupCommit(
      (rows) => this.commitMany(rows),
      undefined,
      options.sharedWriters ? { isBusy, maxWaitMs: LEDGER_BUSY_MAX_WAIT_MS } : null,
    );
  }

  /** Starts the periodic disk check (an unref'd timer: it never keeps the process alive). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  /** Why a row cannot be written now, or null when it can. */
  unwritable(): string | null {
    return this.problem;
  }

  record(row: LedgerRow): void {
    try {
      this.store.record(row);
    } catch (err) {
      if (this.options.sharedWriters && isBusy(err)) {
        // Another worker is committing: this row (a refusal's, sent without waiting) joins the next group commit.
        this.group.add(row).catch(() => {});
        return;
      }
      this.markDown(`a ledger row could not be written (${describe(err)})`);
      throw err;
    }
  }

  /** The row in this round's group commit (group-commit.ts); resolves once it is durable. */
  recordGrouped(row: LedgerRow): Promise<void> {
    return this.group.add(row);
  }

  /** Transactions committed by the group commit so far. */
  get groupCommits(): number {
    return this.group.commits;
  }

  private commitMany(rows: readonly LedgerRow[]): void {
    try {
      this.store.recordMany(rows);
    } catch (err) {
      if (this.options.sharedWriters && isBusy(err)) throw err; // retried by the group commit, not a disk problem
      this.markDown(`${rows.length} ledger row(s) could not be written (${describe(err)})`);
      throw err;
    }
  }

  summary(options?: { since?: Date }): UsageSummaryRow[] {
    return this.store.summary(options);
  }

  sessionTotals(): SessionTotals {
    return this.store.sessionTotals();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // Rows queued this round are committed before the file closes, waiting (blocking) for other writers' lock.
    this.store.setBusyTimeout?.(LEDGER_BUSY_MAX_WAIT_MS);
    this.group.flush(true);
    this.store.close();
  }

  /** One disk check and write probe; exposed for tests (the timer calls it). */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      let free: number | null = null;
      try {
        free = await this.freeBytes(this.options.dir);
      } catch (err) {
        this.markDown(`the ledger's directory ${this.options.dir} cannot be read (${describe(err)})`);
        return;
      }
      if (free < this.minFreeBytes) {
        this.markDown(
          `the disk holding the ledger (${this.options.dir}) is full: ${free} bytes free, ${this.minFreeBytes} needed`,
        );
        return;
      }
      try {
        this.store.probeWrite();
      } catch (err) {
        if (this.options.sharedWriters && isBusy(err)) return; // another writer is busy: the disk is fine
        this.markDown(`the ledger cannot be written (${describe(err)})`);
        return;
      }
      this.markUp();
    } finally {
      this.checking = false;
    }
  }

  /** Unwritable for `reason` (kept current while it lasts; logged when it starts). */
  private markDown(reason: string): void {
    const was = this.problem;
    this.problem = reason;
    if (was !== null) return;
    this.options.logger.error(
      { dir: this.options.dir, reason },
      `usage ledger unwritable: ${reason}. Refusing new requests until it can be written: free space on that disk (or make it writable); serving resumes by itself within ${Math.ceil(this.intervalMs / 1000)} s.`,
    );
  }

  private markUp(): void {
    if (this.problem === null) return;
    const was = this.problem;
    this.problem = null;
    this.options.logger.info(
      { dir: this.options.dir, was },
      "usage ledger writable again: accepting requests",
    );
  }
}
