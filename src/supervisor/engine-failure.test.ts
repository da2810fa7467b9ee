import { describe, expect, it } from "vitest";
import { crashLoopFailure, exitFailure, failureError, startFailure } from "./engine-failure.js";
import { retryableWhileLoading } from "./restart-policy.js";

describe("exitFailure", () => {
  it("a crash names how the engine exited; exit code 0 nobody asked for is a crash (vllm#48966)", () => {
    expect(exitFailure({ code: 0, signal: null }, null, null)).toEqual({
      reason: "crash",
      message: "the engine exited unexpectedly (exit code 0, but nobody asked it to stop)",
    });
    expect(exitFailure({ code: 137, signal: null }, null, null).message).toContain("exit code 137");
    expect(exitFailure({ code: null, signal: "SIGKILL" }, null, null).message).toContain("signal SIGKILL");
  });

  it("the watch's verdict wins over the engine's fatal line, which wins over a bare crash", () => {
    const fatal = { event: "fatal" as const, reason: "cuda_oom" as const, detail: "OOM", hint: "lower it" };
    expect(exitFailure({ code: 1, signal: null }, null, fatal)).toEqual({
      reason: "cuda_oom",
      message: "OOM",
      hint: "lower it",
    });
    const hang = { reason: "hang" as const, message: "hung" };
    expect(exitFailure({ code: 1, signal: null }, hang, fatal)).toBe(hang);
  });
});

describe("failure wording", () => {
  it("a crash loop names the last failure and keeps its hint", () => {
    const f = crashLoopFailure({ reason: "crash", message: "boom", hint: "h" }, 5, {
      healthyResetMs: 600_000,
    });
    expect(f.reason).toBe("crash_loop");
    expect(f.message).toContain("5 times in a row");
    expect(f.message).toContain("10 min");
    expect(f.message).toContain("Last failure (crash): boom");
    expect(f.hint).toBe("h");
  });

  it("a start failure keeps the driver's hint; the error copies the log tail", () => {
    const err = Object.assign(new Error("no image"), { hint: "build it" });
    expect(startFailure(err)).toEqual({
      reason: "start_failed",
      message: "the engine could not be started: no image",
      hint: "build it",
    });
    const tail = ["a", "b"];
    const e = failureError({ reason: "crash", message: "m" }, tail, 0);
    expect(e).toEqual({ reason: "crash", message: "m", logTail: ["a", "b"], at: "1970-01-01T00:00:00.000Z" });
    expect(e.logTail).not.toBe(tail);
  });
});

describe("retryableWhileLoading", () => {
  it("the operator's faults are not retried; engine errors and the supervisor's verdicts are", () => {
    for (const r of [
      "cuda_oom",
      "gpu_memory_busy",
      "kv_cache_oom",
      "model_access",
      "bad_config",
      "start_failed",
    ] as const) {
      expect(retryableWhileLoading(r)).toBe(false);
    }
    for (const r of ["engine_error", "crash", "stall_timeout", "hang", "unhealthy"] as const) {
      expect(retryableWhileLoading(r)).toBe(true);
    }
  });
});
