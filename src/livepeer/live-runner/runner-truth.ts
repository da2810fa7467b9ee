import { MAX_METADATA_BYTES } from "./heartbeat-wire.js";
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

/** Sleep mode's states of a model whose engines are ready (supervisor/types.ts ModelState). */
const SLEEP_STATES = new Set(["awake", "asleep", "waking", "falling_asleep"]);

/**
 * Several models (LLM_RUNNER_MODELS_FILE): what one model's own registration says. A model of a swap group that is
 * asleep, waking or falling asleep is still "ready" with its slots as capacity: go-livepeer reserves sessions on,
 * lists in discovery and proxies to "" and "ready" only (ai/runner/live_runner.go isReadyStatus, @176aa415), and a
 * request for a sleeping model wakes it, so any other word would turn away the very request that wakes it. Where
 * it stands goes in `metadata`, which go-livepeer passes verbatim to discovery: clients see that the first request
 * waits for a wake, and which body `model` the registration serves.
 */
export function modelTruth(input: {
  model: string;
  /** Its engines' state (the replicas' fold): "ready" while awake or asleep. */
  engineState: string;
  /** Its state with sleep mode on top (ModelFigures.state). */
  modelState: string;
  readySlots: number;
  /** Its last wake's duration, when it has woken before. */
  lastWakeMs: number | null;
  ledgerProblem: string | null;
  stopping: boolean;
}): RunnerTruth {
  const truth = runnerTruth({
    state: input.engineState,
    readySlots: input.readySlots,
    ledgerProblem: input.ledgerProblem,
    stopping: input.stopping,
  });
  const state = SLEEP_STATES.has(input.modelState) ? input.modelState : input.engineState;
  return { ...truth, metadata: offerMetadata(input.model, state, input.lastWakeMs) };
}

/**
 * The metadata of a model's registration: {"model": id, "state": awake | asleep | waking | falling_asleep | the
 * engines' state, "wake_seconds": the last wake}. Public (discovery), so nothing but these. Within go-livepeer's
 * 1024 bytes: a model id too long for it is left out (the app still names the offer).
 */
export function offerMetadata(model: string, state: string, lastWakeMs: number | null): string {
  const wake = lastWakeMs === null ? {} : { wake_seconds: Math.round(lastWakeMs / 10) / 100 };
  const full = JSON.stringify({ model, state, ...wake });
  if (Buffer.byteLength(full, "utf8") <= MAX_METADATA_BYTES) return full;
  return JSON.stringify({ state, ...wake });
}
