import type { RunnerTruth } from "./live-runner-agent.js";

/**
 * What a heartbeat says: "ready" exactly when a request would be served (an engine ready, the ledger writable, not
 * stopping). A runner that is only full stays ready: capacity tells the orchestrator how many. Otherwise the word
 * says why (go-livepeer routes only "" and "ready"; any other lowercase word is not routable).
 */
export function runnerTruth(input: {
  state: string;
  readySlots: number;
  ledgerProblem: string | null;
  stopping: boolean;
}): RunnerTruth {
  if (input.stopping) return { status: "draining", capacity: 0 };
  if (input.state !== "ready") return { status: input.state, capacity: 0 };
  if (input.ledgerProblem !== null) return { status: "ledger_unwritable", capacity: 0 };
  return { status: "ready", capacity: input.readySlots };
}
