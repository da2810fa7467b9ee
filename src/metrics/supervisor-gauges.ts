import type { SupervisorSnapshot, SupervisorState } from "../supervisor/types.js";
import { Counter, Gauge, Registry } from "./registry.js";

const STATES: readonly SupervisorState[] = [
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
export function renderSupervisorGauges(snapshot: SupervisorSnapshot, admission: AdmissionFigures): string {
  const registry = new Registry();
  registry.add(
    new Gauge(
      "llm_runner_supervisor_state",
      "1 for the supervisor's current state, 0 for the others.",
      ["state"],
      () => STATES.map((s) => ({ values: [s], value: s === snapshot.state ? 1 : 0 })),
    ),
  );
  registry.add(
    new Gauge("llm_runner_engine_restarts", "Engine restarts since the supervisor started.", [], () => [
      { values: [], value: snapshot.restarts },
    ]),
  );
  registry.add(
    new Gauge("llm_runner_engine_generation", "Engine starts since the supervisor started.", [], () => [
      { values: [], value: snapshot.generation },
    ]),
  );
  registry.add(
    new Gauge("llm_runner_loading_progress", "Model loading progress 0..1 (-1 when unknown).", [], () => [
      { values: [], value: snapshot.progress ?? -1 },
    ]),
  );
  registry.add(
    new Gauge(
      "llm_runner_in_flight_requests",
      "Requests admitted by the gateway and not yet finished.",
      [],
      () => [{ values: [], value: admission.inFlight }],
    ),
  );
  registry.add(
    new Gauge(
      "llm_runner_queue_depth",
      "Admitted requests beyond MAX_NUM_SEQS (waiting at the engine).",
      [],
      () => [{ values: [], value: admission.queueDepth }],
    ),
  );
  registry.add(
    new Gauge(
      "llm_runner_admission_capacity",
      "MAX_NUM_SEQS + QUEUE_SIZE: requests admitted at once.",
      [],
      () => [{ values: [], value: admission.capacity }],
    ),
  );
  const canary = snapshot.canary;
  if (canary) {
    // Canary generations go straight to the engine (not billed, not in the ledger): counted here only.
    const sent = registry.add(
      new Counter(
        "llm_runner_canary_requests_total",
        "1-token canary generations sent to the idle engine, by result (ok, error, timeout = hung).",
        ["result"],
      ),
    );
    sent.inc(["ok"], canary.ok);
    sent.inc(["error"], canary.errors);
    sent.inc(["timeout"], canary.timeouts);
    if (canary.lastLatencyMs !== null) {
      const seconds = canary.lastLatencyMs / 1000;
      registry.add(
        new Gauge(
          "llm_runner_canary_latency_seconds",
          "Time to the last successful canary's token.",
          [],
          () => [{ values: [], value: seconds }],
        ),
      );
    }
  }
  return registry.render();
}
