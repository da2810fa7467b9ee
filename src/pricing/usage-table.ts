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
  const body = [...rows, ...(rows.length > 1 ? totals(rows) : [])].map(cells);
  const table = [HEADERS, ...body];
  const widths = HEADERS.map((_, i) => Math.max(...table.map((row) => (row[i] ?? "").length)));
  return `${table
    .map((row) =>
      row
        .map((cell, i) => (RIGHT.has(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}
