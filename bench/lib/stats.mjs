// Small statistics helpers for the bench: nearest-rank percentiles (what `vllm bench serve` reports via numpy
// is linear interpolation; at thousands of samples the two agree to well under the noise here).

/** The p-th percentile (0..100) of numbers, by linear interpolation between closest ranks; null when empty. */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  return percentileSorted(sorted, p);
}

export function percentileSorted(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo];
  const b = sorted[hi];
  return a + (b - a) * (rank - lo);
}

/** p50/p90/p99/mean/max of a sample, in the sample's unit; nulls when empty. */
export function summarize(values) {
  if (values.length === 0) return { n: 0, mean: null, p50: null, p90: null, p99: null, max: null };
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    n: sorted.length,
    mean: sum / sorted.length,
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    max: sorted[sorted.length - 1],
  };
}

/** The median of the non-null numbers; null when there are none. */
export function median(values) {
  const nums = values.filter((v) => typeof v === "number" && Number.isFinite(v));
  return nums.length === 0 ? null : percentile(nums, 50);
}

// Counts that must be zero in every round: a median would hide one bad round, so these are summed.
const SUMMED = new Set(["errors", "eventMismatches", "engineTokenGap", "requests", "events"]);

/**
 * The median, field by field, of several results that have the same shape (one per round). Numbers take the
 * median (counts in SUMMED take the sum); booleans are true only when every round was true; arrays are merged; other values come
 * from the first round.
 */
export function medianOf(results, key = "") {
  const first = results[0];
  if (results.length === 1) return first;
  if (typeof first === "number" || first === null) {
    if (!SUMMED.has(key)) return median(results);
    return results.reduce((a, b) => a + (typeof b === "number" ? b : 0), 0);
  }
  if (typeof first === "boolean") return results.every((r) => r === true);
  if (Array.isArray(first)) return [...new Set(results.flat())].slice(0, 5); // e.g. error samples
  if (typeof first !== "object") return first;
  const out = {};
  for (const k of Object.keys(first))
    out[k] = medianOf(
      results.map((r) => r?.[k] ?? null),
      k,
    );
  return out;
}

export function round(value, digits = 3) {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
