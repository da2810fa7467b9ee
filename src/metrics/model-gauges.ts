// Several models (LLM_RUNNER_MODELS_FILE): one set of series per model, labelled `model` (and `group` for a swap
// group's): where it stands (awake, asleep, waking, or its engines' state), its wakes and sleeps, the time its
// wakes took, when it was last asked for, and the requests it has now.
import { Counter, Gauge, Registry } from "prom-client";
import type { ModelFigures } from "../supervisor/model-set.js";
import { SUPERVISOR_STATES } from "./supervisor-gauges.js";

export const MODEL_STATES = [
  "awake",
  "asleep",
  "waking",
  "falling_asleep",
  ...SUPERVISOR_STATES.filter((s) => s !== "ready"),
];

export async function renderModelGauges(models: readonly ModelFigures[]): Promise<string> {
  if (models.length === 0) return "";
  const registry = new Registry();
  const registers = [registry];
  const labels = (m: ModelFigures) => ({ model: m.id, group: m.group ?? "" });
  const state = new Gauge({
    name: "llm_runner_model_state",
    help: "1 for each model's current state (awake, asleep, waking, falling_asleep, or its engines' state while not ready), 0 for the others.",
    labelNames: ["model", "group", "state"] as const,
    registers,
  });
  for (const m of models)
    for (const s of MODEL_STATES) state.set({ ...labels(m), state: s }, s === m.state ? 1 : 0);
  const perModel = (
    name: string,
    help: string,
    value: (m: ModelFigures) => number,
    kind: "gauge" | "counter",
  ) => {
    if (kind === "counter") {
      const c = new Counter({ name, help, labelNames: ["model", "group"] as const, registers });
      for (const m of models) c.inc(labels(m), value(m));
      return;
    }
    const g = new Gauge({ name, help, labelNames: ["model", "group"] as const, registers });
    for (const m of models) g.set(labels(m), value(m));
  };
  perModel(
    "llm_runner_model_wakes_total",
    "Times the model was woken from sleep.",
    (m) => m.wakes,
    "counter",
  );
  perModel("llm_runner_model_sleeps_total", "Times the model was put to sleep.", (m) => m.sleeps, "counter");
  perModel(
    "llm_runner_model_wake_seconds_total",
    "Seconds its wakes took, all together (÷ wakes: the mean wake).",
    (m) => m.wakeSecondsTotal,
    "counter",
  );
  perModel(
    "llm_runner_model_last_wake_seconds",
    "How long its last wake took (-1: never woken).",
    (m) => (m.lastWakeMs === null ? -1 : m.lastWakeMs / 1000),
    "gauge",
  );
  perModel(
    "llm_runner_model_last_used_timestamp_seconds",
    "When a request last asked for the model (Unix seconds; 0: never).",
    (m) => (m.lastUsed === null ? 0 : Date.parse(m.lastUsed) / 1000),
    "gauge",
  );
  perModel(
    "llm_runner_model_active_requests",
    "Requests admitted to the model or waiting for a slot (a swap waits for them).",
    (m) => m.active,
    "gauge",
  );
  return registry.metrics();
}
