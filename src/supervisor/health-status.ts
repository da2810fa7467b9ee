import type { SupervisorSnapshot } from "./types.js";

/** The AI-runner's /health values. */
export type HealthStatus = "LOADING" | "OK" | "IDLE" | "ERROR";

/** The /health status for a supervisor snapshot (IDLE = ready with nothing in flight). */
export function healthStatus(snap: Pick<SupervisorSnapshot, "state" | "inFlight">): HealthStatus {
  switch (snap.state) {
    case "starting":
    case "loading":
    case "restarting":
      return "LOADING";
    case "ready":
      return snap.inFlight > 0 ? "OK" : "IDLE";
    // Still serving the requests it has; the orchestrator must not kill it while they finish.
    case "draining":
      return "OK";
    case "failed":
    case "stopped":
      return "ERROR";
  }
}
