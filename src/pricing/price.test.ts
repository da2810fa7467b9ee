import { describe, expect, it } from "vitest";
import { formatPrice, priceTokens } from "./price.js";

const reference = { pricePerUnit: 0.08, pixelsPerUnit: 1_000_000, currency: "USD" };

describe("priceTokens", () => {
  it("prices max_tokens at the reference rate of 0.08 USD per million tokens", () => {
    expect(priceTokens(256, reference)).toBeCloseTo(0.00002048, 15);
    expect(priceTokens(1_000_000, reference)).toBeCloseTo(0.08, 12);
    expect(priceTokens(0, reference)).toBe(0);
  });
});

describe("formatPrice", () => {
  it("writes plain decimals, never exponent notation", () => {
    expect(formatPrice(priceTokens(256, reference))).toBe("0.00002048");
    expect(formatPrice(8e-8)).toBe("0.00000008");
    expect(formatPrice(0)).toBe("0");
    expect(formatPrice(12.5)).toBe("12.5");
    expect(formatPrice(3)).toBe("3");
  });
});
