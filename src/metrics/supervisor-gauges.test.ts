import { describe, expect, it } from "vitest";
import { renderSupervisorGauges } from "./supervisor-gauges.js";

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
});
