import { describe, expect, it } from "vitest";
import type { ReplicaView } from "../supervisor/types.js";
import { renderReplicaGauges } from "./replica-gauges.js";

function replica(
  index: number,
  state: ReplicaView["state"],
  inFlight: number,
  restarts: number,
): ReplicaView {
  return {
    replica: index,
    gpus: `${2 * index},${2 * index + 1}`,
    state,
    progress: null,
    progressDetail: null,
    engine: "vllm",
    driver: "docker",
    modelId: "m",
    engineId: null,
    generation: restarts + 1,
    restarts,
    inFlight,
    startedAt: null,
    readySince: null,
    lastError: null,
  };
}

describe("renderReplicaGauges", () => {
  it("labels each replica's state, in flight and restarts with `replica`", async () => {
    const text = await renderReplicaGauges([replica(0, "ready", 7, 0), replica(1, "restarting", 0, 2)]);
    expect(text).toContain('llm_runner_replica_state{replica="1",state="restarting"} 1');
    expect(text).toContain('llm_runner_replica_state{replica="1",state="ready"} 0');
    expect(text).toContain('llm_runner_replica_in_flight_requests{replica="0",gpus="0,1"} 7');
    expect(text).toContain('llm_runner_replica_restarts{replica="1",gpus="2,3"} 2');
  });

  it("gives each replica its own loading progress, -1 when unknown", async () => {
    const loading = { ...replica(1, "loading", 0, 1), progress: 0.25 };
    const text = await renderReplicaGauges([
      { ...replica(0, "ready", 0, 0), progress: 1 },
      loading,
      replica(2, "starting", 0, 0),
    ]);
    expect(text).toContain('llm_runner_replica_loading_progress{replica="0",gpus="0,1"} 1');
    expect(text).toContain('llm_runner_replica_loading_progress{replica="1",gpus="2,3"} 0.25');
    expect(text).toContain('llm_runner_replica_loading_progress{replica="2",gpus="4,5"} -1');
  });

  it("renders nothing for a view without replicas", async () => {
    expect(await renderReplicaGauges([])).toBe("");
  });
});
