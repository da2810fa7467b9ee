import { describe, expect, it } from "vitest";
import { foldSnapshots } from "./replica-fold.js";
import type { CanaryFigures, SupervisorSnapshot, SupervisorState } from "./types.js";

function snap(state: SupervisorState, more: Partial<SupervisorSnapshot> = {}): SupervisorSnapshot {
  return {
    state,
    progress: state === "ready" ? 1 : null,
    progressDetail: null,
    engine: "sim",
    driver: "process",
    modelId: "m",
    engineId: "1",
    generation: 1,
    restarts: 0,
    inFlight: 0,
    startedAt: null,
    readySince: null,
    lastError: null,
    ...more,
  };
}

function canary(ok: number, errors: number, timeouts: number, lastLatencyMs: number | null): CanaryFigures {
  return { sent: ok + errors + timeouts, ok, errors, timeouts, lastLatencyMs };
}

describe("foldSnapshots (the runner-wide snapshot of several replicas)", () => {
  it("adds up the replicas' canary counts and keeps the slowest last latency", () => {
    const folded = foldSnapshots([
      snap("ready", { canary: canary(5, 1, 0, 12) }),
      snap("ready", { canary: canary(3, 0, 1, 40) }),
    ]);
    expect(folded.canary).toEqual({ sent: 10, ok: 8, errors: 1, timeouts: 1, lastLatencyMs: 40 });
  });

  it("has canary figures when only some replicas report them, and none when no replica does", () => {
    expect(foldSnapshots([snap("ready"), snap("ready", { canary: canary(2, 0, 0, null) })]).canary).toEqual(
      canary(2, 0, 0, null),
    );
    expect(foldSnapshots([snap("ready"), snap("ready")])).not.toHaveProperty("canary");
  });

  it("reads loading progress 1 when every replica is ready, as one ready replica does", () => {
    expect(foldSnapshots([snap("ready")]).progress).toBe(1);
    expect(foldSnapshots([snap("ready"), snap("ready")]).progress).toBe(1);
    expect(foldSnapshots([snap("ready"), snap("restarting", { progress: null })]).progress).toBe(1);
  });

  it("reads the most advanced loading replica while none is ready", () => {
    const folded = foldSnapshots([
      snap("loading", { progress: 0.2, progressDetail: "shard 1/5" }),
      snap("loading", { progress: 0.6, progressDetail: "shard 3/5" }),
    ]);
    expect([folded.state, folded.progress, folded.progressDetail]).toEqual(["loading", 0.6, "shard 3/5"]);
    expect(foldSnapshots([snap("restarting"), snap("starting")]).progress).toBeNull();
  });
});
