// The restart decision, as a pure function: what to do when the engine fails (restart after a backoff, give up
// on a crash loop, or fail at once), given how many failures came before it without a healthy stretch between.
// No timers here: the supervisor owns time; this module only does arithmetic, so it is tested without a clock.

import { FATAL_REASON_RETRYABLE, isFatalReason } from "../protocol/lifecycle.js";
import { type FailureReason, SUPERVISOR_REASON_RETRYABLE } from "./types.js";

export interface RestartPolicy {
  initialDelayMs: number; // first restart delay (1 s)
  maxDelayMs: number; // cap (60 s)
  crashLoopLimit: number; // this many failures in a row (no healthy stretch between) means "failed" (5)
  healthyResetMs: number; // ENGINE_HEALTHY_RESET: this long ready in one stretch forgets earlier failures (10 min)
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
  crashLoopLimit: 5,
  healthyResetMs: 10 * 60_000,
};

export interface FailureFacts {
  /** A restart cannot fix it (a fatal start: CUDA OOM, gated model, bad config…): the operator must act. */
  notRetryable: boolean;
  /** How long the engine had been ready, without a break, when it failed (0 when it never became ready). */
  readyForMs: number;
}

export type RestartDecision =
  | { action: "restart"; delayMs: number; streak: number }
  | { action: "give_up"; streak: number }
  | { action: "fail"; streak: number };

/**
 * `streak` is the number of failures before this one with no healthy stretch between them. A failure that ends a
 * ready stretch of at least `healthyResetMs` starts a new streak, so an engine that crashes now and then after
 * serving for a long time is always restarted, while one that cannot stay up is given up on after
 * `crashLoopLimit` failures. The backoff grows with the streak, so it also resets after a healthy stretch.
 */
export function decideRestart(policy: RestartPolicy, streak: number, failure: FailureFacts): RestartDecision {
  const before = failure.readyForMs >= policy.healthyResetMs ? 0 : streak;
  const now = before + 1;
  if (failure.notRetryable) return { action: "fail", streak: now };
  if (now >= policy.crashLoopLimit) return { action: "give_up", streak: now };
  return { action: "restart", delayMs: backoffDelay(policy, now), streak: now };
}

/** Delay before restart number `attempt` (1-based): initial, 2×, 4×, … capped at max. */
export function backoffDelay(policy: RestartPolicy, attempt: number): number {
  const exp = Math.min(30, Math.max(0, attempt - 1));
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** exp);
}

/** Whether a restart can cure this failure when it comes while loading (declared beside each list of reasons). */
export function retryableWhileLoading(reason: FailureReason): boolean {
  return isFatalReason(reason) ? FATAL_REASON_RETRYABLE[reason] : SUPERVISOR_REASON_RETRYABLE[reason];
}
