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
  it("marks canary generations apart, by result, when the canary is on", () => {
    const text = renderSupervisorGauges(
      { ...snapshot, canary: { sent: 7, ok: 5, errors: 1, timeouts: 1, lastLatencyMs: 12 } },
      admission,
    );
    expect(text).toContain("# TYPE llm_runner_canary_requests_total counter");
    expect(text).toContain('llm_runner_canary_requests_total{result="ok"} 5');
    expect(text).toContain('llm_runner_canary_requests_total{result="error"} 1');
    expect(text).toContain('llm_runner_canary_requests_total{result="timeout"} 1');
    expect(text).toContain("llm_runner_canary_latency_seconds 0.012");
  });

  it("has no canary series when the canary is off", () => {
    expect(renderSupervisorGauges(snapshot, admission)).not.toContain("canary");
  });
});
