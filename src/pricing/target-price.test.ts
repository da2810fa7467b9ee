import { describe, expect, it } from "vitest";
import { SqliteLedger } from "./ledger.js";
import type { LedgerRow } from "./ledger-types.js";
import { priceForTarget } from "./target-price.js";

describe("priceForTarget", () => {
  it("lowers price_per_unit by the observed completion ÷ max_tokens ratio", () => {
    // A quarter of max_tokens is really generated: 0.08 USD per 1 M real tokens needs 0.02 per 1 M quoted.
    const price = priceForTarget(0.08, 1_000_000, { requests: 4, maxTokens: 4000, completionTokens: 1000 });
    expect(price).toEqual({
      pricePerUnit: 0.02,
      ratio: 0.25,
      sample: { requests: 4, maxTokens: 4000, completionTokens: 1000 },
    });
    // The effective price per real token is the target again.
    const p = price?.pricePerUnit ?? 0;
    expect((4000 * p) / 1_000_000 / 1000).toBeCloseTo(0.08 / 1_000_000, 15);
  });

  it("scales with pixels_per_unit", () => {
    expect(
      priceForTarget(0.08, 1000, { requests: 1, maxTokens: 100, completionTokens: 50 })?.pricePerUnit,
    ).toBe(0.00004);
  });

  it("has no answer without finished requests or generated tokens", () => {
    expect(priceForTarget(0.08, 1_000_000, { requests: 0, maxTokens: 0, completionTokens: 0 })).toBeNull();
    expect(priceForTarget(0.08, 1_000_000, { requests: 3, maxTokens: 300, completionTokens: 0 })).toBeNull();
  });
});

describe("SqliteLedger.outputRatio", () => {
  const row = (over: Partial<LedgerRow>): LedgerRow => ({
    id: Math.random().toString(36).slice(2),
    ts: "2026-01-02T00:00:00.000Z",
    route: "/llm",
    model: "m",
    stream: false,
    maxTokens: 100,
    promptTokens: 5,
    completionTokens: 40,
    quote: 0,
    usagePrice: 0,
    currency: "USD",
    status: "ok",
    httpStatus: 200,
    ttftMs: 1,
    durationMs: 2,
    error: null,
    ...over,
  });

  it("sums only finished /llm requests of the model, from --since on", () => {
    const ledger = SqliteLedger.open(":memory:");
    ledger.record(row({}));
    ledger.record(row({ maxTokens: 300, completionTokens: 60 }));
    ledger.record(row({ status: "client_abort", completionTokens: 1 }));
    ledger.record(row({ status: "rejected", completionTokens: 0 }));
    ledger.record(row({ route: "/v1/chat/completions" }));
    ledger.record(row({ model: "other" }));
    ledger.record(row({ ts: "2025-12-31T00:00:00.000Z" }));
    expect(
      ledger.outputRatio({ route: "/llm", model: "m", since: new Date("2026-01-01T00:00:00Z") }),
    ).toEqual({
      requests: 2,
      maxTokens: 400,
      completionTokens: 100,
    });
    expect(ledger.outputRatio({ route: "/llm", model: "none" })).toEqual({
      requests: 0,
      maxTokens: 0,
      completionTokens: 0,
    });
    ledger.close();
  });
});
