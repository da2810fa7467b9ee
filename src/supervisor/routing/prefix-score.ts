// The prefix policy's choice among replicas with a free slot: a weighted sum of the expected prefix hit (matched
// blocks / prompt blocks) and the free share of the replica's slots, with llm-d's default weights (its scheduling
// profile: prefix-cache-scorer 3, queue-scorer 2; llm-d/llm-d-inference-scheduler, deploy/config and the scorer
// READMEs under pkg/epp/framework/plugins/scheduling/scorer/). The load guard: a replica already holding at least
// `guard` more requests than the least loaded one gets no credit for its prefix, so a hot prefix spreads instead of
// queueing on one engine while others idle.

export const PREFIX_WEIGHT = 3;
export const LOAD_WEIGHT = 2;
/** The guard, as a share of a replica's MAX_NUM_SEQS (and at least MIN_GUARD requests); bench/prefix.mjs chose it. */
export const GUARD_SHARE = 0.5;
export const MIN_GUARD = 2;

export interface ScoredReplica {
  inFlight: number;
  /** Its MAX_NUM_SEQS. */
  slots: number;
  /** Whether it can take a request now (a free slot). */
  free: boolean;
  /** Leading blocks of the prompt it is expected to hold. */
  matched: number;
}

/** How many more requests than the least loaded replica a replica with `slots` slots may hold and keep its match. */
export function loadGuard(slots: number): number {
  return Math.max(MIN_GUARD, Math.ceil(slots * GUARD_SHARE));
}

export interface PrefixChoice {
  /** Index in the list given, of a free replica. */
  at: number;
  reason: "prefix_hit" | "load" | "fallback";
}

/**
 * Picks among `replicas` (ready and trusted, some full) for a prompt of `total` blocks; ties go to the first in
 * the order `from`, `from + 1`, … (so equal replicas take turns). null when none is free.
 */
export function choosePrefix(
  replicas: readonly ScoredReplica[],
  total: number,
  from: number,
): PrefixChoice | null {
  const n = replicas.length;
  let least = Number.POSITIVE_INFINITY;
  let longest = 0;
  for (const r of replicas) {
    least = Math.min(least, r.inFlight);
    longest = Math.max(longest, r.matched);
  }
  let best = -1;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < n; k++) {
    const at = (from + k) % n;
    const r = replicas[at] as ScoredReplica;
    if (!r.free) continue;
    const guarded = r.inFlight - least >= loadGuard(r.slots);
    const hit = total > 0 && !guarded ? r.matched / total : 0;
    const score = PREFIX_WEIGHT * hit + LOAD_WEIGHT * (1 - Math.min(1, r.inFlight / r.slots));
    if (score > bestScore) {
      best = at;
      bestScore = score;
    }
  }
  if (best < 0) return null;
  const chosen = replicas[best] as ScoredReplica;
  if (chosen.matched > 0 && chosen.matched === longest) return { at: best, reason: "prefix_hit" };
  // The longest match only on full replicas: the policy's choice could not be had. Else the guard (or no match).
  const onlyFull = longest > 0 && !replicas.some((r) => r.free && r.matched === longest);
  return { at: best, reason: onlyFull ? "fallback" : "load" };
}
