import { Counter, Gauge, Registry } from "prom-client";
import type { SupervisorSnapshot, SupervisorState } from "../supervisor/types.js";

export const SUPERVISOR_STATES: readonly SupervisorState[] = [
  "stopped",
  "starting",
  "loading",
  "ready",
  "draining",
  "restarting",
  "failed",
];

export interface AdmissionFigures {
  /** Requests admitted by the gateway and not finished (running at the engine or waiting in its queue). */
  inFlight: number;
  /** Admitted requests beyond MAX_NUM_SEQS: the ones waiting in the engine's queue. */
  queueDepth: number;
  /** MAX_NUM_SEQS + QUEUE_SIZE: beyond this, requests get 429. */
  capacity: number;
}

/** Gauges computed at scrape time from the supervisor's snapshot and the gateway's admission counts. */
export function renderSupervisorGauges(
  snapshot: SupervisorSnapshot,
  admission: AdmissionFigures,
): Promise<string> {
  // A fresh registry per scrape: the values are a snapshot, and a scrape is rare (seconds apart).
  const registry = new Registry();
  const registers = [registry];
  const gauge = (name: string, help: string, value: number) =>
    new Gauge({ name, help, registers }).set(value);
  const state = new Gauge({
    name: "llm_runner_supervisor_state",
    help: "1 for the supervisor's current state, 0 for the others.",
    labelNames: ["state"] as const,
    registers,
  });
  for (const s of SUPERVISOR_STATES) state.set({ state: s }, s === snapshot.state ? 1 : 0);
  gauge("llm_runner_engine_restarts", "Engine restarts since the supervisor started.", snapshot.restarts);
  gauge("llm_runner_engine_generation", "Engine starts since the supervisor started.", snapshot.generation);
  gauge(
    "llm_runner_loading_progress",
    "Model loading progress 0..1 (-1 when unknown).",
    snapshot.progress ?? -1,
  );
  gauge(
    "llm_runner_in_flight_requests",
    "Requests admitted by the gateway and not yet finished.",
    admission.inFlight,
  );
  gauge(
    "llm_runner_queue_depth",
    "Admitted requests beyond MAX_NUM_SEQS (waiting at the engine).",
    admission.queueDepth,
  );
  gauge(
    "llm_runner_admission_capacity",
    "MAX_NUM_SEQS + QUEUE_SIZE: requests admitted at once.",
    admission.capacity,
  );
  const canary = snapshot.canary;
  if (canary) {
    // Canary generations go straight to the engine (not billed, not in the ledger): counted here only.
    const sent = new Counter({
      name: "llm_runner_canary_requests_total",
      help: "1-token canary generations sent to the idle engine, by result (ok, error, timeout = hung).",
      labelNames: ["result"] as const,
      registers,
    });
    sent.inc({ result: "ok" }, canary.ok);
    sent.inc({ result: "error" }, canary.errors);
    sent.inc({ result: "timeout" }, canary.timeouts);
    if (canary.lastLatencyMs !== null) {
      gauge(
        "llm_runner_canary_latency_seconds",
        "Time to the last successful canary's token.",
        canary.lastLatencyMs / 1000,
      );
    }
  }
  return registry.metrics();
}
