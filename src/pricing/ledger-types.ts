// One finished, priced request; the ledger keeps one row per request.

export type LedgerStatus =
  | "ok" // the engine finished the request (stop or length)
  | "client_abort" // the client went away before the end
  | "engine_error" // the engine failed, died or was stopped mid-request, or could not be reached
  | "rejected"; // refused before the engine produced anything (queue full, not ready, engine 4xx)

export interface LedgerRow {
  id: string;
  ts: string; // ISO 8601 UTC, when the request arrived
  route: string; // "/llm", "/v1/chat/completions", "/v1/completions" or "/v1/responses"
  model: string;
  stream: boolean;
  maxTokens: number;
  promptTokens: number;
  completionTokens: number;
  quote: number;
  usagePrice: number;
  currency: string;
  status: LedgerStatus;
  httpStatus: number;
  ttftMs: number | null;
  durationMs: number;
  error: string | null;
  /** The Livepeer-Session-Id of a request proxied by a Live Runner orchestrator. */
  sessionId?: string | null;
}

export interface UsageSummaryRow {
  model: string;
  day: string; // YYYY-MM-DD (UTC)
  currency: string;
  requests: number; // served: every status except "rejected"
  rejected: number;
  promptTokens: number;
  completionTokens: number;
  quoteTotal: number; // sum of quotes of served requests
  usageTotal: number; // sum of usage-based prices of served requests
  difference: number; // quoteTotal - usageTotal: what max-token pricing over-charges
}

export interface Ledger {
  /** Durable once it returns (its own transaction); call before the response's final byte goes out. */
  record(row: LedgerRow): void;
  /**
   * The row in a group commit (several requests' rows, one transaction); the promise settles once it is durable,
   * or rejects. Send the response's final byte only after it settles. Absent: use record().
   */
  recordGrouped?(row: LedgerRow): Promise<void>;
  /** Why a row cannot be written now (disk full, read-only), or null; absent = always writable. */
  unwritable?(): string | null;
  summary(options?: { since?: Date }): UsageSummaryRow[];
  close(): void;
}
