import { describe, expect, it } from "vitest";
import { choosePrefix, loadGuard, type ScoredReplica } from "./prefix-score.js";

const r = (matched: number, inFlight: number, slots = 8, free = true): ScoredReplica => ({
  matched,
  inFlight,
  slots,
  free,
});

describe("choosePrefix: weighted prefix hit against load, with the load guard", () => {
  it("the guard is half the slots, at least 2", () => {
    expect(loadGuard(8)).toBe(4);
    expect(loadGuard(128)).toBe(64);
    expect(loadGuard(1)).toBe(2);
  });

  it("the longest match wins over an idle replica: 3 × 8/10 + 2 × (1 − 1/8) = 4.15 against 2 × 1 = 2", () => {
    expect(choosePrefix([r(8, 1), r(0, 0)], 10, 0)).toEqual({ at: 0, reason: "prefix_hit" });
  });

  it("a short match is weighed against load: 3 × 1/10 + 2 × 2/8 = 0.8 beats 2 × 3/8 = 0.75; at 1/20 it is 0.65", () => {
    // 6 and 5 in flight: 1 apart, under the guard of 4.
    expect(choosePrefix([r(1, 6, 8), r(0, 5, 8)], 10, 0)).toEqual({ at: 0, reason: "prefix_hit" });
    expect(choosePrefix([r(1, 6, 8), r(0, 5, 8)], 20, 0)).toEqual({ at: 1, reason: "load" });
  });

  it("the load guard: a replica 4 requests (half of 8 slots) above the least loaded keeps no credit for its prefix", () => {
    // 3 × 0.8 + 2 × 0.5 = 3.4 unguarded; guarded it scores 1 against the idle replica's 2.
    expect(choosePrefix([r(8, 4), r(0, 0)], 10, 0)).toEqual({ at: 1, reason: "load" });
    // 3 apart: under the guard, 3 × 0.8 + 2 × 0.625 = 3.65 wins.
    expect(choosePrefix([r(8, 3), r(0, 0)], 10, 0)?.at).toBe(0);
    // The guard counts from the least loaded replica, not from zero: 7 and 4 in flight are 3 apart.
    expect(choosePrefix([r(8, 7), r(0, 4)], 10, 0)?.at).toBe(0);
  });

  it("the longest match on a full replica only: fallback to the best free one", () => {
    expect(choosePrefix([r(8, 8, 8, false), r(3, 0), r(0, 0)], 10, 0)).toEqual({ at: 1, reason: "fallback" });
  });

  it("no match anywhere: the least loaded, ties taking turns from `from`", () => {
    const idle = [r(0, 0), r(0, 0), r(0, 0)];
    expect(choosePrefix(idle, 0, 0)).toEqual({ at: 0, reason: "load" });
    expect(choosePrefix(idle, 0, 1)).toEqual({ at: 1, reason: "load" });
    expect(choosePrefix(idle, 10, 2)).toEqual({ at: 2, reason: "load" });
  });

  it("nothing free: null", () => {
    expect(choosePrefix([r(8, 8, 8, false)], 10, 0)).toBeNull();
  });
});
