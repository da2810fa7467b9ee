import type { SupervisorSnapshot } from "../supervisor/types.js";

/** The AI-runner's /health values. */
export type HealthStatus = "LOADING" | "OK" | "IDLE" | "ERROR";

export function healthStatus(snapshot: SupervisorSnapshot): HealthStatus {
  switch (snapshot.state) {
    case "starting":
    case "loading":
    case "restarting":
      return "LOADING";
    case "ready":
      return snapshot.inFlight > 0 ? "OK" : "IDLE";
    // Still serving the requests it has; the orchestrator must not kill it while they finish.
    case "draining":
      return "OK";
    case "failed":
    case "stopped":
      return "ERROR";
  }
}
