import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ledgerPath, SqliteLedger } from "./ledger.js";
import type { LedgerRow } from "./ledger-types.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function row(overrides: Partial<LedgerRow>): LedgerRow {
  return {
    id: Math.random().toString(16).slice(2),
    ts: "2025-03-01T10:00:00.000Z",
    route: "/llm",
    model: "m",
    stream: false,
    maxTokens: 256,
    promptTokens: 10,
    completionTokens: 64,
    quote: 0.00002048,
    usagePrice: 0.00000512,
    currency: "USD",
    status: "ok",
    httpStatus: 200,
    ttftMs: 12.5,
    durationMs: 300,
    error: null,
    sessionId: null,
    ...overrides,
  };
}

describe("SqliteLedger", () => {
  it("writes <home>/ledger.sqlite in WAL mode and reads every field back", () => {
    const home = mkdtempSync(join(tmpdir(), "ledger-"));
    dirs.push(home);
    const ledger = SqliteLedger.open(ledgerPath(join(home, "nested")));
    const r = row({ stream: true, ttftMs: null, error: "client disconnected", status: "client_abort" });
    ledger.record(r);
    expect(ledger.rows()).toEqual([r]);
    ledger.close();
    const again = SqliteLedger.openReadOnly(ledgerPath(join(home, "nested")));
    expect(again.rows()).toEqual([r]);
    again.close();
  });

  it("sums by model and UTC day, keeps rejected requests out of the money, and filters by --since", () => {
    const ledger = SqliteLedger.open(":memory:");
    ledger.record(row({ ts: "2025-03-01T23:59:59.000Z" }));
    ledger.record(row({ ts: "2025-03-01T01:00:00.000Z", completionTokens: 256, usagePrice: 0.00002048 }));
    ledger.record(
      row({
        ts: "2025-03-01T02:00:00.000Z",
        status: "rejected",
        quote: 1,
        completionTokens: 0,
        usagePrice: 0,
      }),
    );
    ledger.record(row({ ts: "2025-03-02T00:00:00.000Z", model: "other" }));
    const [day1, day2] = ledger.summary();
    expect(day1).toMatchObject({
      model: "m",
      day: "2025-03-01",
      requests: 2,
      rejected: 1,
      completionTokens: 320,
    });
    expect(day1?.quoteTotal).toBeCloseTo(0.00004096, 15);
    expect(day1?.usageTotal).toBeCloseTo(0.0000256, 15);
    expect(day1?.difference).toBeCloseTo(0.00001536, 15);
    expect(day2).toMatchObject({ model: "other", day: "2025-03-02", requests: 1 });
    expect(ledger.summary({ since: new Date("2025-03-02T00:00:00Z") }).map((r) => r.model)).toEqual([
      "other",
    ]);
  });

  it("refuses a second row with the same request id (a row is written once)", () => {
    const ledger = SqliteLedger.open(":memory:");
    ledger.record(row({ id: "same" }));
    expect(() => ledger.record(row({ id: "same" }))).toThrow(/UNIQUE/);
  });

  it("recordMany writes rows in one transaction: all of them with their totals, or none", () => {
    const ledger = SqliteLedger.open(":memory:");
    ledger.recordMany([row({ id: "a" }), row({ id: "b", status: "rejected" }), row({ id: "c" })]);
    expect(ledger.rows().map((r) => r.id)).toEqual(["a", "b", "c"]);
    expect(ledger.sessionTotals()).toMatchObject({ requests: 2, promptTokens: 20, completionTokens: 128 });
    // "a" again: the primary key refuses it, and "d" of the same transaction is not written either.
    expect(() => ledger.recordMany([row({ id: "d" }), row({ id: "a" })])).toThrow(/UNIQUE/);
    expect(ledger.rows().map((r) => r.id)).toEqual(["a", "b", "c"]);
    expect(ledger.sessionTotals().requests).toBe(2);
    ledger.close();
  });
});
