import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
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

describe("SqliteLedger.totalsSince (what status shows)", () => {
  it("sums the served requests from a moment on: not the rejected ones, not the earlier ones", () => {
    const ledger = SqliteLedger.open(":memory:");
    const at = (s: number) => new Date(Date.UTC(2025, 2, 1, 10, 0, s)).toISOString();
    ledger.recordMany([
      row({ ts: at(0), promptTokens: 100 }),
      row({ ts: at(10), promptTokens: 7, completionTokens: 3, quote: 0.5, usagePrice: 0.25 }),
      row({ ts: at(11), promptTokens: 5, completionTokens: 2, quote: 0.5, usagePrice: 0.125 }),
      row({ ts: at(12), status: "rejected", promptTokens: 0, completionTokens: 0, quote: 0, usagePrice: 0 }),
    ]);
    expect(ledger.totalsSince(new Date(at(10)))).toEqual({
      requests: 2,
      promptTokens: 12,
      completionTokens: 5,
      quoted: 1,
      usage: 0.375,
    });
    expect(ledger.totalsSince(new Date(at(13)))).toEqual({
      requests: 0,
      promptTokens: 0,
      completionTokens: 0,
      quoted: 0,
      usage: 0,
    });
    ledger.close();
  });
});

describe("SqliteLedger per Live Runner session", () => {
  it("sums each session, its compute seconds the union of its requests' time in flight", () => {
    const ledger = SqliteLedger.open(":memory:");
    const at = (s: number) => new Date(Date.UTC(2025, 2, 1, 10, 0, s)).toISOString();
    // s1: [0,4] and [2,6] overlap → 6 s; then [10,11] → 7 s in all. A rejected request adds no time.
    ledger.record(row({ sessionId: "s1", ts: at(0), durationMs: 4_000, completionTokens: 10 }));
    ledger.record(row({ sessionId: "s1", ts: at(2), durationMs: 4_000, completionTokens: 20 }));
    ledger.record(row({ sessionId: "s1", ts: at(10), durationMs: 1_000, completionTokens: 5 }));
    ledger.record(
      row({ sessionId: "s1", ts: at(20), durationMs: 0, status: "rejected", completionTokens: 0 }),
    );
    // s2: one request nested inside another → 5 s.
    ledger.record(row({ sessionId: "s2", ts: at(1), durationMs: 5_000 }));
    ledger.record(row({ sessionId: "s2", ts: at(2), durationMs: 1_000 }));
    ledger.record(row({ ts: at(3) })); // direct traffic: no session
    const rows = ledger.sessionUsage();
    expect(
      rows.map((r) => [r.sessionId, r.requests, r.rejected, r.completionTokens, r.computeSeconds]),
    ).toEqual([
      ["s1", 3, 1, 35, 7],
      ["s2", 2, 0, 128, 5],
    ]);
    expect(ledger.sessionUsage({ since: new Date(at(5)) }).map((r) => r.sessionId)).toEqual(["s1"]);
    expect(ledger.throughput({ model: "m" })).toEqual({
      requests: 6,
      completionTokens: 35 + 128 + 64,
      seconds: 15.3,
    });
  });

  it("adds the session column to a ledger written before it, keeping its rows", () => {
    const home = mkdtempSync(join(tmpdir(), "ledger-old-"));
    dirs.push(home);
    const path = ledgerPath(home);
    const old = new Database(path);
    old.exec(`CREATE TABLE requests (id TEXT PRIMARY KEY, ts TEXT NOT NULL, route TEXT NOT NULL, model TEXT NOT NULL,
      stream INTEGER NOT NULL, max_tokens INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL,
      completion_tokens INTEGER NOT NULL, quote REAL NOT NULL, usage_price REAL NOT NULL, currency TEXT NOT NULL,
      status TEXT NOT NULL, http_status INTEGER NOT NULL, ttft_ms REAL, duration_ms REAL NOT NULL, error TEXT)`);
    old
      .prepare(
        "INSERT INTO requests VALUES ('a', '2025-01-01T00:00:00.000Z', '/llm', 'm', 0, 8, 1, 2, 0, 0, 'USD', 'ok', 200, 1, 5, NULL)",
      )
      .run();
    old.close();
    expect(SqliteLedger.openReadOnly(path).sessionUsage()).toEqual([]);
    const ledger = SqliteLedger.open(path);
    ledger.record(row({ sessionId: "s9" }));
    expect(ledger.rows().map((r) => r.sessionId)).toEqual([null, "s9"]);
    ledger.close();
  });
});
