// Why an engine went down, worded for the operator: from its exit, its own fatal line, or the supervisor's
// watch. Pure functions; the supervisor decides what to do about it (restart-policy.ts).
import type { EngineExit } from "../engine/engine-driver.js";
import type { LifecycleEvent } from "../protocol/lifecycle.js";
import type { FailureReason, SupervisorError } from "./types.js";

export interface EngineFailure {
  reason: FailureReason;
  message: string;
  hint?: string;
}

/**
 * The failure behind an exit nobody asked for: the watch's verdict when it killed the engine, else the engine's
 * own fatal line, else a crash. vLLM has exited 0 on fatal errors (vllm#48966), so exit code 0 is a crash too.
 */
export function exitFailure(
  exit: EngineExit,
  pending: EngineFailure | null,
  fatal: Extract<LifecycleEvent, { event: "fatal" }> | null,
): EngineFailure {
  if (pending) return pending;
  if (fatal) {
    return {
      reason: fatal.reason,
      message: fatal.detail,
      ...(fatal.hint !== undefined ? { hint: fatal.hint } : {}),
    };
  }
  const how =
    exit.code === 0
      ? "exit code 0, but nobody asked it to stop"
      : exit.code !== null
        ? `exit code ${exit.code}`
        : `signal ${exit.signal ?? "unknown"}`;
  return { reason: "crash", message: `the engine exited unexpectedly (${how})` };
}

/** The failure that ends a crash loop: the last failure, named, inside the give-up message. */
export function crashLoopFailure(
  last: EngineFailure,
  streak: number,
  { healthyResetMs }: { healthyResetMs: number },
): EngineFailure {
  return {
    reason: "crash_loop",
    message: `the engine failed ${streak} times in a row without staying ready for ${span(healthyResetMs)} between them (ENGINE_HEALTHY_RESET); giving up. Last failure (${last.reason}): ${last.message}`,
    hint: last.hint ?? "look at the engine log (llm-runner logs --engine), fix the cause, then start again",
  };
}

/** The driver could not start the engine at all (image missing, bad path): its hint, when it has one, is kept. */
export function startFailure(err: unknown): EngineFailure {
  const hint = (err as { hint?: unknown }).hint;
  return {
    reason: "start_failed",
    message: `the engine could not be started: ${errorMessage(err)}`,
    ...(typeof hint === "string" ? { hint } : {}),
  };
}

/** The error the supervisor shows (snapshot, events, status): the failure, the engine's last lines, the time. */
export function failureError(failure: EngineFailure, logTail: string[], nowMs: number): SupervisorError {
  return {
    reason: failure.reason,
    message: failure.message,
    ...(failure.hint !== undefined ? { hint: failure.hint } : {}),
    logTail: [...logTail],
    at: new Date(nowMs).toISOString(),
  };
}

function span(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
