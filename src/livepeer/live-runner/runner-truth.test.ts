import { describe, expect, it } from "vitest";
import { MAX_METADATA_BYTES } from "./heartbeat-wire.js";
import { modelTruth, offerMetadata, runnerTruth } from "./runner-truth.js";

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

describe("what one model's own registration says (several models)", () => {
  const base = {
    model: "Qwen/Qwen2.5-7B-Instruct",
    engineState: "ready",
    readySlots: 16,
    lastWakeMs: null,
    ledgerProblem: null,
    stopping: false,
  };

  it("a sleeping, waking or falling-asleep model stays ready with its slots: go-livepeer routes only ready", () => {
    for (const modelState of ["awake", "asleep", "waking", "falling_asleep"]) {
      const truth = modelTruth({ ...base, modelState });
      expect(truth).toMatchObject({ status: "ready", capacity: 16 });
      expect(JSON.parse(truth.metadata as string)).toEqual({ model: base.model, state: modelState });
    }
    expect(
      JSON.parse(modelTruth({ ...base, modelState: "awake", lastWakeMs: 1_234 }).metadata as string),
    ).toEqual({ model: base.model, state: "awake", wake_seconds: 1.23 });
  });

  it("its engines' own state when they are not ready, as the runner's heartbeat says it", () => {
    for (const engineState of ["loading", "restarting", "failed"]) {
      const truth = modelTruth({ ...base, engineState, modelState: engineState, readySlots: 0 });
      expect(truth).toMatchObject({ status: engineState, capacity: 0 });
      expect(JSON.parse(truth.metadata as string).state).toBe(engineState);
    }
    expect(modelTruth({ ...base, modelState: "asleep", stopping: true })).toMatchObject({
      status: "draining",
      capacity: 0,
    });
    expect(modelTruth({ ...base, modelState: "awake", ledgerProblem: "disk full" })).toMatchObject({
      status: "ledger_unwritable",
    });
  });

  it("keeps the metadata within go-livepeer's 1024 bytes: a model id too long is left out", () => {
    const long = "m".repeat(MAX_METADATA_BYTES);
    const meta = offerMetadata(long, "asleep", 500);
    expect(Buffer.byteLength(meta)).toBeLessThanOrEqual(MAX_METADATA_BYTES);
    expect(JSON.parse(meta)).toEqual({ state: "asleep", wake_seconds: 0.5 });
  });
});
