import type { SupervisorSnapshot } from "./types.js";

export type HealthWord = "LOADING" | "OK" | "IDLE" | "ERROR";

/** The AI-runner /health status for a supervisor snapshot (IDLE = ready with nothing in flight). */
export function healthWord(snap: Pick<SupervisorSnapshot, "state" | "inFlight">): HealthWord {
  switch (snap.state) {
    case "ready":
      return snap.inFlight > 0 ? "OK" : "IDLE";
    case "draining":
      return "OK";
    case "failed":
    case "stopped":
      return "ERROR";
    default:
      return "LOADING";
  }
}
