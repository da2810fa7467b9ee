import type { LiveRunnerSnapshot } from "./live-runner-agent.js";
import type { SessionGate } from "./session-gate.js";

/** One model's registration (several models: each is its own offer). */
export interface LiveRunnerOffer {
  model: string;
  snapshot: LiveRunnerSnapshot;
}

/** What the gateway sees of the Live Runner registration (in this process, or the primary's over IPC). */
export interface LiveRunnerPort {
  /** The registration (several models: the default model's), or null when dynamic registration is off. */
  snapshot(): LiveRunnerSnapshot | null;
  /** Checks proxied sessions; null when dynamic registration is off. */
  readonly gate: SessionGate | null;
  /** Several models (LLM_RUNNER_MODELS_FILE): each model's own registration; absent: one registration. */
  offers?(): LiveRunnerOffer[];
}
