import type { OutputRatio } from "./ledger.js";

/** The price_per_unit for a target price per real output token, and what it was derived from. */
export interface TargetPrice {
  pricePerUnit: number;
  /** Σ completion_tokens ÷ Σ max_tokens over the sample. */
  ratio: number;
  sample: OutputRatio;
}

/**
 * Livepeer charges max_tokens × price_per_unit ÷ pixels_per_unit for an /llm request (go-livepeer server/ai_http.go:
 * outPixels = max_tokens). When on average only `ratio` of max_tokens is really generated, a real output token
 * costs (price_per_unit ÷ pixels_per_unit) ÷ ratio. Setting that equal to `perMillion` ÷ 1 000 000 gives
 * price_per_unit = perMillion × ratio × pixels_per_unit ÷ 1 000 000. Null without a usable sample.
 */
export function priceForTarget(
  perMillion: number,
  pixelsPerUnit: number,
  sample: OutputRatio,
): TargetPrice | null {
  if (sample.requests === 0 || sample.maxTokens === 0 || sample.completionTokens === 0) return null;
  const ratio = sample.completionTokens / sample.maxTokens;
  const pricePerUnit = (perMillion * ratio * pixelsPerUnit) / 1_000_000;
  // 12 significant digits: below any currency's smallest step, and no binary-float tail in the pasted JSON.
  return { pricePerUnit: Number(pricePerUnit.toPrecision(12)), ratio, sample };
}
