// Per-replica series, labelled `replica` (replica="0" alone with REPLICAS=1, so one dashboard fits every runner):
// each engine's state, in-flight requests, restarts, generation and loading progress, so a dashboard shows which
// engine is down or loaded. The set-wide llm_runner_* gauges stay as they are.
import { Gauge, Registry } from "prom-client";
import type { ReplicaSnapshot } from "../supervisor/replica-set.js";
import { SUPERVISOR_STATES } from "./supervisor-gauges.js";

export async function renderReplicaGauges(replicas: readonly ReplicaSnapshot[]): Promise<string> {
  if (replicas.length === 0) return "";
  const registry = new Registry();
  const registers = [registry];
  // Several models (LLM_RUNNER_MODELS_FILE): each has its replica 0, told apart by `model`.
  const byModel = new Set(replicas.map((r) => r.modelId)).size > 1;
  const who = (r: ReplicaSnapshot) => ({
    replica: String(r.replica),
    ...(byModel ? { model: r.modelId } : {}),
  });
  const perReplica = (name: string, help: string, value: (r: ReplicaSnapshot) => number) => {
    const labelNames = byModel ? ["replica", "gpus", "model"] : ["replica", "gpus"];
    const g = new Gauge({ name, help, labelNames, registers });
    for (const r of replicas) g.set({ ...who(r), gpus: r.gpus }, value(r));
  };
  const state = new Gauge({
    name: "llm_runner_replica_state",
    help: "1 for each replica's current supervisor state, 0 for the others.",
    labelNames: byModel ? ["replica", "state", "model"] : ["replica", "state"],
    registers,
  });
  for (const r of replicas)
    for (const s of SUPERVISOR_STATES) state.set({ ...who(r), state: s }, s === r.state ? 1 : 0);
  perReplica(
    "llm_runner_replica_in_flight_requests",
    "Requests in flight at the replica's engine.",
    (r) => r.inFlight,
  );
  perReplica(
    "llm_runner_replica_restarts",
    "The replica's engine restarts since the runner started.",
    (r) => r.restarts,
  );
  perReplica(
    "llm_runner_replica_generation",
    "The replica's engine starts since the runner started.",
    (r) => r.generation,
  );
  perReplica(
    "llm_runner_replica_loading_progress",
    "The replica's model loading progress 0..1 (-1 when unknown).",
    (r) => r.progress ?? -1,
  );
  return registry.metrics();
}
