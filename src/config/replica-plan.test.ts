import { describe, expect, it } from "vitest";
import { planReplicas, type ReplicaPlanInput, replicaConfig, replicaSlotsOf } from "./replica-plan.js";

const EIGHT = [0, 1, 2, 3, 4, 5, 6, 7];

function plan(over: Partial<ReplicaPlanInput>) {
  return planReplicas({
    replicas: 1,
    gpuIds: "all",
    hostGpus: EIGHT,
    tensorParallelSize: 1,
    pipelineParallelSize: 1,
    enginePort: 8100,
    engine: "vllm",
    ...over,
  });
}

describe("planReplicas", () => {
  it("auto with TP=2 on 8 GPUs: 0,1 | 2,3 | 4,5 | 6,7, ports 8100..8103", () => {
    const p = plan({ replicas: "auto", tensorParallelSize: 2 });
    expect(p.ok && p.slots).toEqual([
      { index: 0, gpuIds: [0, 1], enginePort: 8100 },
      { index: 1, gpuIds: [2, 3], enginePort: 8101 },
      { index: 2, gpuIds: [4, 5], enginePort: 8102 },
      { index: 3, gpuIds: [6, 7], enginePort: 8103 },
    ]);
  });

  it("groups of TP × PP from the GPU_IDS list, in its order; the rest noted idle", () => {
    const p = plan({ replicas: 2, gpuIds: [7, 6, 5, 4, 3], tensorParallelSize: 1, pipelineParallelSize: 2 });
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.slots.map((s) => s.gpuIds)).toEqual([
      [7, 6],
      [5, 4],
    ]);
    expect(p.notes.join(" ")).toContain("GPU 3 sits idle");
  });

  it("one replica keeps GPU_IDS as given (all GPUs)", () => {
    expect(plan({}).ok && (plan({}) as { slots: unknown }).slots).toEqual([
      { index: 0, gpuIds: "all", enginePort: 8100 },
    ]);
  });

  it("ENGINE_PORT=0: every replica's engine takes a free port", () => {
    const p = plan({ replicas: 3, enginePort: 0 });
    expect(p.ok && p.slots.map((s) => s.enginePort)).toEqual([0, 0, 0]);
  });

  it("too few GPUs: one issue naming the product, the GPUs given and the REPLICAS that fits", () => {
    const p = plan({ replicas: 5, tensorParallelSize: 2 });
    expect(p.ok).toBe(false);
    if (p.ok) return;
    expect(p.issue.variable).toBe("REPLICAS");
    expect(p.issue.message).toContain("5 × 2 × 1 = 10 GPUs, but the engines get 8");
    expect(p.issue.message).toContain("Set REPLICAS=4");
  });

  it("vLLM with unknown GPUs and REPLICAS > 1: asks for GPU_IDS; auto falls back to one replica", () => {
    const p = plan({ replicas: 2, hostGpus: null });
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.issue.message).toContain("GPU_IDS=0,1");
    const auto = plan({ replicas: "auto", hostGpus: null });
    expect(auto.ok && auto.slots.length).toBe(1);
  });

  it("the simulator needs no GPU: replicas share GPU_IDS when the GPUs are unknown or too few", () => {
    const p = plan({ replicas: 3, hostGpus: null, engine: "sim" });
    expect(p.ok && p.slots.map((s) => [s.gpuIds, s.enginePort])).toEqual([
      ["all", 8100],
      ["all", 8101],
      ["all", 8102],
    ]);
  });

  it("ports past 65535 are refused", () => {
    const p = plan({ replicas: 3, enginePort: 65534 });
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.issue.variable).toBe("ENGINE_PORT");
  });

  it("replicaConfig gives a replica its own GPUs and port; replicaSlotsOf defaults to one engine", () => {
    const config = { gpuIds: "all" as const, enginePort: 8100, modelId: "m" };
    expect(replicaSlotsOf(config)).toEqual([{ index: 0, gpuIds: "all", enginePort: 8100 }]);
    expect(replicaConfig(config, { index: 1, gpuIds: [2, 3], enginePort: 8101 })).toEqual({
      gpuIds: [2, 3],
      enginePort: 8101,
      modelId: "m",
    });
  });
});
