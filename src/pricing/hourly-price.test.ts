import { describe, expect, it } from "vitest";
import { hourlyPriceForTarget } from "./hourly-price.js";

describe("hourlyPriceForTarget", () => {
  it("prices a second so that a generated token costs the target", () => {
    // 20 requests, 6000 tokens in 200 s of requests in flight: 30 tokens/s per slot.
    const p = hourlyPriceForTarget(0.08, { requests: 20, completionTokens: 6_000, seconds: 200 });
    expect(p?.tokensPerSecond).toBe(30);
    // 30 tok/s × 3600 s × 0.08 USD / 1e6 tok = 0.00864 USD per hour.
    expect(p?.usdPerHour).toBe(0.00864);
    // Check: one hour of that slot generates 108 000 tokens for 0.00864 USD, i.e. 0.08 per million.
    expect(((p?.usdPerHour ?? 0) / 108_000) * 1e6).toBeCloseTo(0.08, 10);
  });

  it("needs a sample", () => {
    expect(hourlyPriceForTarget(0.08, { requests: 9, completionTokens: 6_000, seconds: 200 })).toBeNull();
    expect(hourlyPriceForTarget(0.08, { requests: 20, completionTokens: 0, seconds: 200 })).toBeNull();
    expect(hourlyPriceForTarget(0.08, { requests: 20, completionTokens: 10, seconds: 0 })).toBeNull();
  });
});
