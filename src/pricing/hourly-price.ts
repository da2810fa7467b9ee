import type { Throughput } from "./ledger.js";

/** The Live Runner price per hour for a target price per generated token, and what it was derived from. */
export interface HourlyPrice {
  usdPerHour: number;
  /** Generated tokens per second of a request in flight (arrival to end, queueing included). */
  tokensPerSecond: number;
  sample: Throughput;
}

/** Fewer finished requests than this are not a sample: one long or short answer would set the price. */
export const MIN_HOURLY_SAMPLE = 10;

/**
 * A Live Runner is billed per second of a session (go-livepeer PR #3992: price_info in decimal USD per hour). A
 * session slot serving requests back to back generates `tokensPerSecond` tokens per billed second, so a generated
 * token costs price/3600/tokensPerSecond; setting that to `usdPerMillion`/1e6 gives
 * price = usdPerMillion × tokensPerSecond × 3600 / 1e6. Idle time inside a persistent session is billed too, which
 * only makes a real token dearer than the target. Null without a usable sample.
 */
export function hourlyPriceForTarget(usdPerMillion: number, sample: Throughput): HourlyPrice | null {
  if (sample.requests < MIN_HOURLY_SAMPLE || sample.completionTokens === 0 || sample.seconds <= 0)
    return null;
  const tokensPerSecond = sample.completionTokens / sample.seconds;
  const usdPerHour = (usdPerMillion * tokensPerSecond * 3600) / 1_000_000;
  return { usdPerHour: Number(usdPerHour.toPrecision(6)), tokensPerSecond, sample };
}
