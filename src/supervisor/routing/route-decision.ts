// What the router is told about a request, and what it decided (for the metrics and a caller's span attributes).
import type { RouterPolicy } from "../../config/router-policy.js";

export type { RouterPolicy } from "../../config/router-policy.js";

/**
 * Why a replica was chosen: `sticky` the session's replica; `prefix_hit` the replica with the longest expected
 * prefix match; `load` the least loaded (or the next in turn) because no replica matched, the policy ignores
 * prefixes, or the load guard moved the request off its match; `fallback` the replica wanted (the session's, or
 * the longest match) had no free slot or is gone.
 */
export const ROUTE_REASONS = ["prefix_hit", "load", "sticky", "fallback"] as const;
export type RouteReason = (typeof ROUTE_REASONS)[number];

/** What a request tells the router: both optional. */
export interface RouteHint {
  /** Requests with the same key go to the same replica while it is ready and has room. */
  affinity?: string;
  /** The prompt's block hash chain (gateway/routing/prefix-blocks.ts), for the prefix policy. */
  blocks?: Int32Array;
}

export interface RouteDecision {
  policy: RouterPolicy;
  reason: RouteReason;
  replica: number;
  /** Leading blocks of the prompt the index expects the replica to hold (0 without a chain). */
  matchedBlocks: number;
  /** Blocks in the prompt's chain (0 without one). */
  totalBlocks: number;
}
