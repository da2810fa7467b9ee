import type { Config } from "../config/types.js";

/** Livepeer's pricing: a price per unit, where a unit is `pixelsPerUnit` output tokens. */
export interface PriceRate {
  pricePerUnit: number;
  pixelsPerUnit: number;
  currency: string;
}

export function priceRate(config: Pick<Config, "pricePerUnit" | "pixelsPerUnit" | "currency">): PriceRate {
  return {
    pricePerUnit: config.pricePerUnit,
    pixelsPerUnit: config.pixelsPerUnit,
    currency: config.currency,
  };
}

/** The price of `tokens` output tokens: quotes use max_tokens, usage prices use real completion_tokens. */
export function priceTokens(tokens: number, rate: PriceRate): number {
  return (tokens * rate.pricePerUnit) / rate.pixelsPerUnit;
}

/**
 * A price as a plain decimal string for headers and tables ("0.00002048", never "2.048e-5"), at most 12
 * decimals (a token at the reference 0.08 USD per 1 M costs 8e-8).
 */
export function formatPrice(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const fixed = value.toFixed(12);
  const trimmed = fixed.includes(".") ? fixed.replace(/0+$/, "").replace(/\.$/, "") : fixed;
  return trimmed === "-0" ? "0" : trimmed;
}
