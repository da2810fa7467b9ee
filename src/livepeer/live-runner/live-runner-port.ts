import type { LiveRunnerSnapshot } from "./live-runner-agent.js";
import type { SessionGate } from "./session-gate.js";

/** What the gateway sees of the Live Runner registration (in this process, or the primary's over IPC). */
export interface LiveRunnerPort {
  /** The registration, or null when dynamic registration is off (LIVE_RUNNER_ORCH_URL unset). */
  snapshot(): LiveRunnerSnapshot | null;
  /** Checks proxied sessions; null when dynamic registration is off. */
  readonly gate: SessionGate | null;
}
