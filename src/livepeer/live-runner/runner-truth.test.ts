import { describe, expect, it } from "vitest";
import { runnerTruth } from "./runner-truth.js";

describe("what a heartbeat says", () => {
  it("ready with the ready replicas' slots, however full they are", () => {
    expect(runnerTruth({ state: "ready", readySlots: 256, ledgerProblem: null, stopping: false })).toEqual({
      status: "ready",
      capacity: 256,
    });
  });

  it("not ready, with nothing to offer, while loading, restarting, failed, stopping or unable to bill", () => {
    for (const state of ["starting", "loading", "restarting", "failed", "stopped", "draining"]) {
      expect(runnerTruth({ state, readySlots: 0, ledgerProblem: null, stopping: false })).toEqual({
        status: state,
        capacity: 0,
      });
    }
    expect(
      runnerTruth({ state: "ready", readySlots: 8, ledgerProblem: "disk full", stopping: false }),
    ).toEqual({
      status: "ledger_unwritable",
      capacity: 0,
    });
    expect(runnerTruth({ state: "ready", readySlots: 8, ledgerProblem: null, stopping: true })).toEqual({
      status: "draining",
      capacity: 0,
    });
  });
});
