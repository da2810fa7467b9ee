import { describe, expect, it } from "vitest";
import { backoffDelay, DEFAULT_RESTART_POLICY, decideRestart, type RestartPolicy } from "./restart-policy.js";

const policy: RestartPolicy = { ...DEFAULT_RESTART_POLICY, healthyResetMs: 60_000 };

/** Feeds failures through the policy as the supervisor does, carrying the streak from one to the next. */
function run(readyFor: number[], notRetryable = false) {
  let streak = 0;
  return readyFor.map((readyForMs) => {
    const d = decideRestart(policy, streak, { readyForMs, notRetryable });
    streak = d.streak;
    return d;
  });
}

describe("decideRestart", () => {
  it("restarts with a doubling backoff, then gives up on the 5th failure in a row", () => {
    const ds = run([0, 10_000, 0, 59_999, 0]);
    expect(ds.map((d) => d.action)).toEqual(["restart", "restart", "restart", "restart", "give_up"]);
    expect(ds.slice(0, 4).map((d) => (d.action === "restart" ? d.delayMs : -1))).toEqual([
      1_000, 2_000, 4_000, 8_000,
    ]);
    expect(ds[4]?.streak).toBe(5);
  });

  it("forgets earlier failures after a healthy stretch of ENGINE_HEALTHY_RESET", () => {
    // Killed every ~minute, each time after a full healthy stretch: restarted forever, backoff back at 1 s.
    const ds = run(Array.from({ length: 50 }, () => 60_000));
    expect(ds.every((d) => d.action === "restart" && d.delayMs === 1_000 && d.streak === 1)).toBe(true);
  });

  it("counts a failure that ends a short stretch on top of the streak", () => {
    const ds = run([0, 0, 0, 60_000, 0, 0, 0, 0]);
    expect(ds.map((d) => d.streak)).toEqual([1, 2, 3, 1, 2, 3, 4, 5]);
    expect(ds.at(-1)?.action).toBe("give_up");
  });

  it("fails at once when a restart cannot fix the failure", () => {
    expect(decideRestart(policy, 0, { readyForMs: 0, notRetryable: true })).toEqual({
      action: "fail",
      streak: 1,
    });
  });

  it("caps the backoff", () => {
    expect(backoffDelay(policy, 1)).toBe(1_000);
    expect(backoffDelay(policy, 7)).toBe(60_000);
    expect(backoffDelay(policy, 1_000)).toBe(60_000);
  });
});
