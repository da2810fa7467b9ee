import { describe, expect, it } from "vitest";
import type { SupervisorSnapshot } from "../supervisor/types.js";
import { renderSupervisorGauges } from "./supervisor-gauges.js";

const snapshot: SupervisorSnapshot = {
  state: "ready",
  progress: 1,
  progressDetail: null,
  engine: "sim",
  driver: "process",
  modelId: "m",
  engineId: "1",
  generation: 2,
  restarts: 1,
  inFlight: 0,
  startedAt: null,
  readySince: null,
  lastError: null,
};
const admission = { inFlight: 0, queueDepth: 0, capacity: 8 };

describe("renderSupervisorGauges", () => {
  it("renders the state as one-hot gauges and the admission figures", async () => {
    const text = await renderSupervisorGauges(
      { state: "loading", restarts: 2, generation: 3, progress: 0.5 } as Parameters<
        typeof renderSupervisorGauges
      >[0],
      { inFlight: 4, queueDepth: 1, capacity: 160 },
    );
    const lines = text.split("\n");
    expect(lines).toContain('llm_runner_supervisor_state{state="loading"} 1');
    expect(lines).toContain('llm_runner_supervisor_state{state="ready"} 0');
    expect(lines).toContain("llm_runner_engine_restarts 2");
    expect(lines).toContain("llm_runner_loading_progress 0.5");
    expect(lines).toContain("llm_runner_queue_depth 1");
    expect(lines).toContain("llm_runner_admission_capacity 160");
  });

  it("marks canary generations apart, by result, when the canary is on", async () => {
    const text = await renderSupervisorGauges(
      { ...snapshot, canary: { sent: 7, ok: 5, errors: 1, timeouts: 1, lastLatencyMs: 12 } },
      admission,
    );
    expect(text).toContain("# TYPE llm_runner_canary_requests_total counter");
    expect(text).toContain('llm_runner_canary_requests_total{result="ok"} 5');
    expect(text).toContain('llm_runner_canary_requests_total{result="error"} 1');
    expect(text).toContain('llm_runner_canary_requests_total{result="timeout"} 1');
    expect(text).toContain("llm_runner_canary_latency_seconds 0.012");
  });

  it("has no canary series when the canary is off", async () => {
    expect(await renderSupervisorGauges(snapshot, admission)).not.toContain("canary");
  });
});
