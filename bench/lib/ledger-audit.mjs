// After a soak: checks the usage ledger against what the clients saw. "Lost": a request whose client got a
// complete answer but has no row, or whose row does not say ok. "Torn": a row whose fields do not add up (price
// not max_tokens × rate, more tokens than max_tokens, an unknown status…). SQLite's own integrity check runs too.
import Database from "better-sqlite3";

const STATUSES = new Set(["ok", "client_abort", "engine_error", "rejected"]);
const close = (a, b) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/**
 * @param {string} path the ledger (ledger.sqlite)
 * @param {Map<string, {completionTokens: number | null}>} delivered request id → what its client got (tokens
 *   when the answer said so)
 * @param {number} rate price per output token (PRICE_PER_UNIT / PIXELS_PER_UNIT)
 * @param {Iterable<string>} dropped ids of requests the client dropped mid-stream: each needs a row, any status
 */
export function auditLedger(path, delivered, rate, dropped = []) {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const integrity = db.pragma("integrity_check", { simple: true });
    const rows = db.prepare("SELECT * FROM requests").all();
    const byId = new Map(rows.map((r) => [r.id, r]));
    const byStatus = {};
    const torn = [];
    for (const r of rows) {
      byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
      const why = tornBecause(r, rate);
      if (why) torn.push({ id: r.id, why });
    }
    const lost = [];
    for (const [id, seen] of delivered) {
      const r = byId.get(id);
      if (!r) lost.push({ id, why: "no row" });
      else if (r.status !== "ok") lost.push({ id, why: `row says ${r.status}` });
      else if (seen.completionTokens !== null && seen.completionTokens !== r.completion_tokens)
        lost.push({ id, why: `client got ${seen.completionTokens} tokens, row says ${r.completion_tokens}` });
    }
    let droppedCount = 0;
    for (const id of dropped) {
      droppedCount++;
      if (!byId.has(id)) lost.push({ id, why: "dropped by its client, and no row" });
    }
    return {
      integrity,
      rows: rows.length,
      byStatus,
      delivered: delivered.size,
      dropped: droppedCount,
      lost,
      torn,
    };
  } finally {
    db.close();
  }
}

function tornBecause(r, rate) {
  if (!STATUSES.has(r.status)) return `unknown status ${JSON.stringify(r.status)}`;
  for (const k of ["max_tokens", "prompt_tokens", "completion_tokens", "http_status"]) {
    if (!Number.isInteger(r[k]) || r[k] < 0) return `${k} is ${r[k]}`;
  }
  if (!(r.duration_ms >= 0)) return `duration_ms is ${r.duration_ms}`;
  if (Number.isNaN(Date.parse(r.ts))) return `ts is ${JSON.stringify(r.ts)}`;
  if (r.completion_tokens > r.max_tokens) return `${r.completion_tokens} tokens > max_tokens ${r.max_tokens}`;
  if (!close(r.quote, r.max_tokens * rate)) return `quote ${r.quote} ≠ max_tokens × rate`;
  if (!close(r.usage_price, r.completion_tokens * rate))
    return `usage_price ${r.usage_price} ≠ tokens × rate`;
  // A stream that fails or is dropped mid-way has already sent 200; a finished or a refused one cannot disagree.
  if (r.status === "ok" && r.http_status !== 200) return `status ok with HTTP ${r.http_status}`;
  if (r.status === "rejected" && r.http_status === 200) return "status rejected with HTTP 200";
  return null;
}
