import type { SessionUsageRow } from "./ledger.js";
import type { UsageSummaryRow } from "./ledger-types.js";
import { formatPrice } from "./price.js";

/** How much max-token pricing charged above the usage-based price, in percent of the latter. */
export function overChargePercent(row: Pick<UsageSummaryRow, "quoteTotal" | "usageTotal">): number | null {
  if (row.usageTotal === 0) return null;
  return ((row.quoteTotal - row.usageTotal) / row.usageTotal) * 100;
}

const HEADERS = [
  "MODEL",
  "DAY (UTC)",
  "REQUESTS",
  "REJECTED",
  "PROMPT TOK",
  "COMPL TOK",
  "QUOTED",
  "USAGE",
  "OVER-CHARGE",
];
const RIGHT = new Set([2, 3, 4, 5, 6, 7, 8]);

function cells(r: UsageSummaryRow): string[] {
  const pct = overChargePercent(r);
  return [
    r.model,
    r.day,
    String(r.requests),
    String(r.rejected),
    String(r.promptTokens),
    String(r.completionTokens),
    `${formatPrice(r.quoteTotal)} ${r.currency}`,
    `${formatPrice(r.usageTotal)} ${r.currency}`,
    pct === null ? "n/a" : `${pct.toFixed(1)}%`,
  ];
}

function totals(rows: UsageSummaryRow[]): UsageSummaryRow[] {
  const byCurrency = new Map<string, UsageSummaryRow>();
  for (const r of rows) {
    const t = byCurrency.get(r.currency) ?? {
      model: "TOTAL",
      day: "",
      currency: r.currency,
      requests: 0,
      rejected: 0,
      promptTokens: 0,
      completionTokens: 0,
      quoteTotal: 0,
      usageTotal: 0,
      difference: 0,
    };
    t.requests += r.requests;
    t.rejected += r.rejected;
    t.promptTokens += r.promptTokens;
    t.completionTokens += r.completionTokens;
    t.quoteTotal += r.quoteTotal;
    t.usageTotal += r.usageTotal;
    t.difference += r.difference;
    byCurrency.set(r.currency, t);
  }
  return [...byCurrency.values()];
}

/** A plain-text table of the ledger's summary, with a TOTAL line per currency. */
export function formatUsageTable(rows: UsageSummaryRow[]): string {
  return layout(HEADERS, [...rows, ...(rows.length > 1 ? totals(rows) : [])].map(cells), RIGHT);
}

/**
 * What per-token pricing would have earned per hour of a session's compute: the per-hour price at which billing
 * by the second matches billing by the token (README "Pricing a Live Runner").
 */
export function usagePerHour(row: Pick<SessionUsageRow, "usageTotal" | "computeSeconds">): number | null {
  return row.computeSeconds > 0 ? (row.usageTotal / row.computeSeconds) * 3600 : null;
}

const SESSION_HEADERS = [
  "SESSION",
  "FIRST (UTC)",
  "REQUESTS",
  "REJECTED",
  "PROMPT TOK",
  "COMPL TOK",
  "COMPUTE S",
  "USAGE",
  "USAGE/HOUR",
];

/** `usage --by-session`: one line per Live Runner session. */
export function formatSessionTable(rows: SessionUsageRow[]): string {
  const body = rows.map((r) => {
    const hourly = usagePerHour(r);
    return [
      r.sessionId,
      r.first.slice(0, 19).replace("T", " "),
      String(r.requests),
      String(r.rejected),
      String(r.promptTokens),
      String(r.completionTokens),
      r.computeSeconds.toFixed(2),
      `${formatPrice(r.usageTotal)} ${r.currency}`,
      hourly === null ? "n/a" : `${formatPrice(hourly)} ${r.currency}`,
    ];
  });
  return layout(SESSION_HEADERS, body, RIGHT);
}

function layout(headers: string[], body: string[][], right: ReadonlySet<number>): string {
  const table = [headers, ...body];
  const widths = headers.map((_, i) => Math.max(...table.map((row) => (row[i] ?? "").length)));
  return `${table
    .map((row) =>
      row
        .map((cell, i) => (right.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}
