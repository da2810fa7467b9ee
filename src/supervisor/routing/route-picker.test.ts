import { describe, expect, it } from "vitest";
import type { RouterPolicy } from "./route-decision.js";
import { type Candidate, RoutePicker } from "./route-picker.js";

const engines = [{}, {}, {}];
/** Three ready replicas of 8 slots; `inFlight` per replica, counted up as the router commits. */
function cluster(policy: RouterPolicy, inFlight = [0, 0, 0]) {
  const picker = new RoutePicker(policy, 1000);
  const load = [...inFlight];
  const full = new Set<number>();
  const gone = new Set<number>();
  const candidates = (): Candidate[] =>
    [0, 1, 2]
      .filter((i) => !gone.has(i))
      .map((i) => ({
        replica: i,
        inFlight: load[i] as number,
        slots: 8,
        free: !full.has(i),
        engine: engines[i] as object,
        generation: 1,
      }));
  const route = (hint: { affinity?: string; blocks?: Int32Array } = {}) => {
    const list = candidates();
    const pick = picker.pick(list, hint);
    if (pick === null) return null;
    picker.commit(pick, list[pick.at] as Candidate, hint);
    load[pick.decision.replica] = (load[pick.decision.replica] as number) + 1;
    return pick.decision;
  };
  return { picker, route, load, full, gone };
}
const prompt = (tenant: number) => new Int32Array(Array.from({ length: 10 }, (_, i) => tenant * 100 + i));

describe("RoutePicker policies", () => {
  it("round-robin: the next replica in turn, whatever the load", () => {
    const { route } = cluster("round-robin", [5, 0, 0]);
    expect([route(), route(), route(), route()].map((d) => d?.replica)).toEqual([0, 1, 2, 0]);
  });

  it("least-in-flight: the replica with the fewest requests", () => {
    const { route } = cluster("least-in-flight", [3, 1, 2]);
    expect(route()).toMatchObject({ replica: 1, reason: "load", policy: "least-in-flight" });
    expect(route()?.replica).toBe(2); // 3, 2, 2: ties go to the next after the last chosen
  });

  it("prefix: a prompt seen before goes back to the replica that got it; an unseen one by load", () => {
    const { route, load } = cluster("prefix");
    const first = route({ blocks: prompt(1) });
    expect(first).toMatchObject({ reason: "load", matchedBlocks: 0, totalBlocks: 10 });
    load[first?.replica as number] = 0; // it finished
    const again = route({ blocks: prompt(1) });
    expect(again).toMatchObject({ replica: first?.replica, reason: "prefix_hit", matchedBlocks: 10 });
    expect(route({ blocks: prompt(2) })?.replica).not.toBe(first?.replica);
  });

  it("prefix: a tenant whose replica filled up spreads to another, which then also matches", () => {
    const { route, full } = cluster("prefix");
    const home = route({ blocks: prompt(1) })?.replica as number;
    full.add(home);
    const moved = route({ blocks: prompt(1) });
    expect(moved).toMatchObject({ reason: "fallback" });
    expect(moved?.replica).not.toBe(home);
    full.delete(home);
  });

  it("only the prefix policy records prompts", () => {
    const { picker, route } = cluster("least-in-flight");
    route({ blocks: prompt(1) });
    expect([0, 1, 2].map((i) => picker.index.size(i))).toEqual([0, 0, 0]);
  });
});

describe("RoutePicker affinity keys (every policy)", () => {
  it("a key stays on its replica while it has room, whatever the load", () => {
    const { route, load } = cluster("least-in-flight");
    const home = route({ affinity: "s1" })?.replica as number;
    load[home] = 7;
    expect(route({ affinity: "s1" })).toMatchObject({ replica: home, reason: "sticky" });
  });

  it("its replica full: another takes the request (fallback) and the key stays where it was", () => {
    const { route, full } = cluster("round-robin");
    const home = route({ affinity: "s1" })?.replica as number;
    full.add(home);
    expect(route({ affinity: "s1" })?.reason).toBe("fallback");
    full.delete(home);
    expect(route({ affinity: "s1" })).toMatchObject({ replica: home, reason: "sticky" });
  });

  it("its replica gone (not ready): the key moves to the new one and stays there", () => {
    const { route, gone } = cluster("prefix");
    const home = route({ affinity: "s1" })?.replica as number;
    gone.add(home);
    const moved = route({ affinity: "s1" });
    expect(moved?.reason).toBe("fallback");
    gone.delete(home);
    expect(route({ affinity: "s1" })).toMatchObject({ replica: moved?.replica, reason: "sticky" });
  });
});
