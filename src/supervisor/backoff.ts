// Restart policy: exponential backoff between restarts, and a crash-loop limit that gives up.

export interface RestartPolicy {
  initialDelayMs: number; // first restart delay (1 s)
  maxDelayMs: number; // cap (60 s)
  crashLoopLimit: number; // this many failures...
  crashLoopWindowMs: number; // ...within this window means "failed" (5 in 10 min)
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 1_000,
  maxDelayMs: 60_000,
  crashLoopLimit: 5,
  crashLoopWindowMs: 10 * 60_000,
};

/** Delay before restart number `attempt` (1-based): initial, 2×, 4×, … capped at max. */
export function backoffDelay(policy: RestartPolicy, attempt: number): number {
  const exp = Math.min(30, Math.max(0, attempt - 1));
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** exp);
}

/** Records failure times and says whether the crash-loop limit is reached. */
export class CrashWindow {
  private times: number[] = [];

  constructor(private readonly policy: RestartPolicy) {}

  record(now: number): { count: number; limitReached: boolean } {
    this.times.push(now);
    this.times = this.times.filter((t) => now - t <= this.policy.crashLoopWindowMs);
    return { count: this.times.length, limitReached: this.times.length >= this.policy.crashLoopLimit };
  }
}
