import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname, join } from "node:path";
import Database from "better-sqlite3";
import type { Ledger, LedgerRow, LedgerStatus, UsageSummaryRow } from "./ledger-types.js";

export const LEDGER_FILE = "ledger.sqlite";
/** How long a write waits for another process's write lock, by default (ms). */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

export function ledgerPath(home: string): string {
  return join(home, LEDGER_FILE);
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS requests (
  id TEXT PRIMARY KEY,
  ts TEXT NOT NULL,
  route TEXT NOT NULL,
  model TEXT NOT NULL,
  stream INTEGER NOT NULL,
  max_tokens INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  quote REAL NOT NULL,
  usage_price REAL NOT NULL,
  currency TEXT NOT NULL,
  status TEXT NOT NULL,
  http_status INTEGER NOT NULL,
  ttft_ms REAL,
  duration_ms REAL NOT NULL,
  error TEXT,
  session_id TEXT
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);
CREATE TABLE IF NOT EXISTS write_probe (id INTEGER PRIMARY KEY, ts TEXT NOT NULL);
`;

const INSERT = `INSERT INTO requests (id, ts, route, model, stream, max_tokens, prompt_tokens, completion_tokens,
  quote, usage_price, currency, status, http_status, ttft_ms, duration_ms, error, session_id)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

// Ledgers written before the Live Runner (no session_id) get the column on their first open for writing.
const HAS_SESSION = "SELECT 1 FROM pragma_table_info('requests') WHERE name = 'session_id'";

const SUMMARY = `SELECT model, substr(ts, 1, 10) AS day, currency,
  SUM(status != 'rejected') AS requests,
  SUM(status = 'rejected') AS rejected,
  SUM(CASE WHEN status != 'rejected' THEN prompt_tokens ELSE 0 END) AS promptTokens,
  SUM(CASE WHEN status != 'rejected' THEN completion_tokens ELSE 0 END) AS completionTokens,
  SUM(CASE WHEN status != 'rejected' THEN quote ELSE 0 END) AS quoteTotal,
  SUM(CASE WHEN status != 'rejected' THEN usage_price ELSE 0 END) AS usageTotal
  FROM requests WHERE ts >= @since GROUP BY model, day, currency ORDER BY day, model, currency`;

interface SummarySqlRow {
  model: string;
  day: string;
  currency: string;
  requests: number;
  rejected: number;
  promptTokens: number;
  completionTokens: number;
  quoteTotal: number;
  usageTotal: number;
}

/** What this process has recorded since the ledger was opened: served requests only (not "rejected"). */
export interface SessionTotals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  quoted: number;
  usage: number;
}

/** Requests that finished normally: the tokens they were quoted for and the tokens they really got. */
export interface OutputRatio {
  requests: number;
  maxTokens: number;
  completionTokens: number;
}

/** Served requests' generated tokens and their seconds from arrival to the end. */
export interface Throughput {
  requests: number;
  completionTokens: number;
  seconds: number;
}

/** One Live Runner session in the ledger (`llm-runner usage --by-session`). */
export interface SessionUsageRow {
  sessionId: string;
  first: string; // arrival of its first request (ISO)
  last: string;
  requests: number; // served (every status but "rejected")
  rejected: number;
  promptTokens: number;
  completionTokens: number;
  /** Time with at least one served request of the session in flight. */
  computeSeconds: number;
  quoteTotal: number;
  usageTotal: number;
  currency: string;
}

/** The usage ledger in SQLite: `<home>/ledger.sqlite`. */
export class SqliteLedger implements Ledger {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement | null;
  private readonly summarize: Database.Statement;
  private readonly probe: Database.Statement | null;
  private readonly insertAll: (rows: readonly LedgerRow[]) => void;
  private readonly session: SessionTotals = {
    requests: 0,
    promptTokens: 0,
    completionTokens: 0,
    quoted: 0,
    usage: 0,
  };

  private constructor(db: Database.Database, writable: boolean) {
    this.db = db;
    this.insert = writable ? db.prepare(INSERT) : null;
    this.summarize = db.prepare(SUMMARY);
    this.probe = writable ? db.prepare("INSERT OR REPLACE INTO write_probe (id, ts) VALUES (1, ?)") : null;
    this.insertAll = db.transaction((rows: readonly LedgerRow[]) => {
      for (const row of rows) this.insertRow(row);
    });
  }

  /**
   * Opens (creating when needed) the ledger for writing. `path` may be ":memory:" in tests. `busyTimeoutMs`:
   * how long a write waits, blocking, for another process's write lock (0 for the HTTP workers, which share
   * the file and retry without blocking: group-commit.ts).
   */
  static open(path: string, options: { busyTimeoutMs?: number } = {}): SqliteLedger {
    if (path !== ":memory:") {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database file's mode.
      closeSync(openSync(path, "a", 0o600));
    }
    const db = new Database(path);
    // WAL + NORMAL: a commit is durable against a crash or kill -9 of this process (the WAL is in the OS
    // page cache), without an fsync per request that would block the event loop and every stream on it.
    // Only an OS crash or power loss can drop the last commits; a torn row is never possible.
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma(`busy_timeout = ${DEFAULT_BUSY_TIMEOUT_MS}`); // creating the tables may wait for another writer
    db.exec(SCHEMA);
    if (db.prepare(HAS_SESSION).get() === undefined)
      db.exec("ALTER TABLE requests ADD COLUMN session_id TEXT");
    const ledger = new SqliteLedger(db, true);
    if (options.busyTimeoutMs !== undefined) ledger.setBusyTimeout(options.busyTimeoutMs);
    return ledger;
  }

  /** Opens an existing ledger read-only (`llm-runner usage`); throws when the file does not exist. */
  static openReadOnly(path: string): SqliteLedger {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    return new SqliteLedger(db, false);
  }

  /** How long a write waits, blocking, for another process's lock (ms). */
  setBusyTimeout(ms: number): void {
    this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(ms))}`);
  }

  record(row: LedgerRow): void {
    if (!this.insert) throw new Error("the ledger was opened read-only");
    // One statement outside any explicit transaction is its own transaction: committed when run() returns.
    this.insertRow(row);
    this.count(row);
  }

  /**
   * Several rows in one transaction (group commit, group-commit.ts): one WAL commit for all of them instead of
   * one each. Durable on return; on an error none of them is written.
   */
  recordMany(rows: readonly LedgerRow[]): void {
    if (!this.insert) throw new Error("the ledger was opened read-only");
    if (rows.length === 1) {
      this.record(rows[0] as LedgerRow);
      return;
    }
    this.insertAll(rows);
    for (const row of rows) this.count(row);
  }

  private insertRow(row: LedgerRow): void {
    // Positional parameters: binding them costs less than looking up named ones.
    (this.insert as Database.Statement).run(
      row.id,
      row.ts,
      row.route,
      row.model,
      row.stream ? 1 : 0,
      row.maxTokens,
      row.promptTokens,
      row.completionTokens,
      row.quote,
      row.usagePrice,
      row.currency,
      row.status,
      row.httpStatus,
      row.ttftMs,
      row.durationMs,
      row.error,
      row.sessionId ?? null,
    );
  }

  /** Session totals, kept as rows commit, so status.json never re-sums the table. */
  private count(row: LedgerRow): void {
    if (row.status === "rejected") return;
    const t = this.session;
    t.requests += 1;
    t.promptTokens += row.promptTokens;
    t.completionTokens += row.completionTokens;
    t.quoted += row.quote;
    t.usage += row.usagePrice;
  }

  /** A real commit (one row, rewritten in place), so a full or read-only disk shows before a paid row fails. */
  probeWrite(): void {
    if (!this.probe) throw new Error("the ledger was opened read-only");
    this.probe.run(new Date().toISOString());
  }

  /** Totals of the rows this process recorded since it opened the ledger (a copy). */
  sessionTotals(): SessionTotals {
    return { ...this.session };
  }

  /** Served requests (not "rejected") from `since` on, summed from the rows: what `status` shows. */
  totalsSince(since: Date): SessionTotals {
    return this.db
      .prepare(
        `SELECT COUNT(*) AS requests, COALESCE(SUM(prompt_tokens), 0) AS promptTokens,
          COALESCE(SUM(completion_tokens), 0) AS completionTokens, COALESCE(SUM(quote), 0) AS quoted,
          COALESCE(SUM(usage_price), 0) AS usage
          FROM requests WHERE status != 'rejected' AND ts >= ?`,
      )
      .get(since.toISOString()) as SessionTotals;
  }

  summary(options: { since?: Date } = {}): UsageSummaryRow[] {
    const since = options.since ? options.since.toISOString() : "";
    const rows = this.summarize.all({ since }) as SummarySqlRow[];
    return rows.map((r) => ({
      ...r,
      requests: r.requests ?? 0,
      rejected: r.rejected ?? 0,
      difference: r.quoteTotal - r.usageTotal,
    }));
  }

  /**
   * Σ completion_tokens and Σ max_tokens of the requests that finished normally ("ok") on one route and model:
   * how much of what max_tokens pricing charges is really generated (`llm-runner orchestrator`).
   */
  outputRatio(options: { route: string; model: string; since?: Date }): OutputRatio {
    const row = this.db
      .prepare(
        `SELECT COUNT(*) AS requests, COALESCE(SUM(max_tokens), 0) AS maxTokens,
          COALESCE(SUM(completion_tokens), 0) AS completionTokens
          FROM requests WHERE status = 'ok' AND route = ? AND model = ? AND ts >= ?`,
      )
      .get(options.route, options.model, options.since ? options.since.toISOString() : "") as OutputRatio;
    return { requests: row.requests, maxTokens: row.maxTokens, completionTokens: row.completionTokens };
  }

  /**
   * Requests that finished normally for one model: their generated tokens and their seconds from arrival to the
   * end. A single-shot Live Runner session lasts exactly its request, so this is tokens per billed second.
   */
  throughput(options: { model: string; since?: Date }): Throughput {
    const row = this.db
      .prepare(
        `SELECT COUNT(*) AS requests, COALESCE(SUM(completion_tokens), 0) AS completionTokens,
          COALESCE(SUM(duration_ms), 0) / 1000.0 AS seconds
          FROM requests WHERE status = 'ok' AND model = ? AND ts >= ? AND completion_tokens > 0`,
      )
      .get(options.model, options.since ? options.since.toISOString() : "") as Throughput;
    return { requests: row.requests, completionTokens: row.completionTokens, seconds: row.seconds };
  }

  /**
   * Per Live Runner session (rows with a session id): requests, tokens, prices, and compute seconds, the time
   * with at least one of its requests in flight (the union of [arrival, end] of its served requests).
   */
  sessionUsage(options: { since?: Date } = {}): SessionUsageRow[] {
    if (this.db.prepare(HAS_SESSION).get() === undefined) return [];
    const raw = this.db
      .prepare(
        `SELECT session_id, ts, duration_ms, status, prompt_tokens, completion_tokens, quote, usage_price, currency
          FROM requests WHERE session_id IS NOT NULL AND ts >= ? ORDER BY session_id, ts`,
      )
      .all(options.since ? options.since.toISOString() : "") as Array<{
      session_id: string;
      ts: string;
      duration_ms: number;
      status: LedgerStatus;
      prompt_tokens: number;
      completion_tokens: number;
      quote: number;
      usage_price: number;
      currency: string;
    }>;
    const out = new Map<string, SessionUsageRow & { busyUntil: number }>();
    for (const r of raw) {
      let s = out.get(r.session_id);
      if (s === undefined) {
        s = {
          sessionId: r.session_id,
          first: r.ts,
          last: r.ts,
          requests: 0,
          rejected: 0,
          promptTokens: 0,
          completionTokens: 0,
          computeSeconds: 0,
          quoteTotal: 0,
          usageTotal: 0,
          currency: r.currency,
          busyUntil: -Infinity,
        };
        out.set(r.session_id, s);
      }
      s.last = r.ts;
      if (r.status === "rejected") {
        s.rejected += 1;
        continue;
      }
      s.requests += 1;
      s.promptTokens += r.prompt_tokens;
      s.completionTokens += r.completion_tokens;
      s.quoteTotal += r.quote;
      s.usageTotal += r.usage_price;
      // Rows come in arrival order: each adds only the part of its interval not already counted.
      const start = Date.parse(r.ts);
      const end = start + r.duration_ms;
      if (end > s.busyUntil) {
        s.computeSeconds += (end - Math.max(start, s.busyUntil)) / 1000;
        s.busyUntil = end;
      }
    }
    return [...out.values()]
      .map(({ busyUntil: _, ...row }) => row)
      .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  }

  /** Every row, oldest first (tests and audits). */
  rows(): LedgerRow[] {
    const raw = this.db.prepare("SELECT * FROM requests ORDER BY ts, rowid").all() as Array<
      Record<string, unknown>
    >;
    return raw.map(fromSql);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function fromSql(r: Record<string, unknown>): LedgerRow {
  return {
    id: String(r.id),
    ts: String(r.ts),
    route: String(r.route),
    model: String(r.model),
    stream: r.stream === 1,
    maxTokens: Number(r.max_tokens),
    promptTokens: Number(r.prompt_tokens),
    completionTokens: Number(r.completion_tokens),
    quote: Number(r.quote),
    usagePrice: Number(r.usage_price),
    currency: String(r.currency),
    status: String(r.status) as LedgerStatus,
    httpStatus: Number(r.http_status),
    ttftMs: r.ttft_ms === null ? null : Number(r.ttft_ms),
    durationMs: Number(r.duration_ms),
    error: r.error === null ? null : String(r.error),
    sessionId: r.session_id === null || r.session_id === undefined ? null : String(r.session_id),
  };
}
