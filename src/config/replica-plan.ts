// REPLICAS: how the GPUs of GPU_IDS are split into one group of TENSOR_PARALLEL_SIZE × PIPELINE_PARALLEL_SIZE GPUs
// per engine replica (8 GPUs, TP=2: 0,1 | 2,3 | 4,5 | 6,7), and which host port each replica's engine gets.
// Pure: the GPUs the host has are passed in (null when unknown: no nvidia-smi, or ENGINE=sim).
import type { Finding } from "./model-checks.js";

/** One replica's place: its GPUs ("all": every GPU, as with one engine) and its engine's host port (0: free one). */
export interface ReplicaSlot {
  index: number;
  gpuIds: "all" | number[];
  enginePort: number;
}

export interface ReplicaPlanInput {
  replicas: number | "auto";
  gpuIds: "all" | number[];
  /** GPU indexes the host has (nvidia-smi), or null when not known. */
  hostGpus: number[] | null;
  tensorParallelSize: number;
  pipelineParallelSize: number;
  enginePort: number;
  engine: "vllm" | "sim";
}

export type ReplicaPlan = { ok: true; slots: ReplicaSlot[]; notes: string[] } | { ok: false; issue: Finding };

export function planReplicas(input: ReplicaPlanInput): ReplicaPlan {
  const world = input.tensorParallelSize * input.pipelineParallelSize;
  const listed = Array.isArray(input.gpuIds);
  const gpus = listed ? (input.gpuIds as number[]) : input.hostGpus;
  const notes: string[] = [];
  const howGiven = listed
    ? `GPU_IDS=${(input.gpuIds as number[]).join(",")}`
    : `GPU_IDS=all: ${gpus?.length ?? 0} GPU${gpus?.length === 1 ? "" : "s"} on this host`;

  let count: number;
  if (input.replicas === "auto") {
    if (gpus === null || gpus.length === 0) {
      count = 1;
      if (input.engine === "vllm")
        notes.push(
          "REPLICAS=auto: the GPUs are not known (no nvidia-smi), so one replica runs on all of them.",
        );
    } else {
      count = Math.max(1, Math.floor(gpus.length / world));
    }
  } else {
    count = input.replicas;
  }

  const portIssue = portRange(input.enginePort, count);
  if (portIssue) return { ok: false, issue: portIssue };

  // One replica keeps GPU_IDS as given (all GPUs, or the list): what a runner without replicas did.
  if (count === 1)
    return { ok: true, slots: [{ index: 0, gpuIds: input.gpuIds, enginePort: input.enginePort }], notes };

  const port = (i: number) => (input.enginePort === 0 ? 0 : input.enginePort + i);
  const shared = (): ReplicaPlan => ({
    ok: true,
    slots: Array.from({ length: count }, (_, i) => ({ index: i, gpuIds: input.gpuIds, enginePort: port(i) })),
    notes,
  });
  if (gpus === null || gpus.length === 0) {
    // The simulator needs no GPU; vLLM replicas sharing every GPU would fight over their memory.
    if (input.engine === "sim") return shared();
    return {
      ok: false,
      issue: {
        variable: "REPLICAS",
        message: `is ${count}, but the GPUs are not known (nvidia-smi found none), so they cannot be split between replicas. List them with GPU_IDS (e.g. GPU_IDS=${Array.from({ length: count * world }, (_, i) => i).join(",")}), or set REPLICAS=1.`,
      },
    };
  }
  const needed = count * world;
  if (needed > gpus.length) {
    if (input.engine === "sim") return shared();
    const fits = Math.floor(gpus.length / world);
    return {
      ok: false,
      issue: {
        variable: "REPLICAS",
        message: `REPLICAS × TENSOR_PARALLEL_SIZE × PIPELINE_PARALLEL_SIZE = ${count} × ${input.tensorParallelSize} × ${input.pipelineParallelSize} = ${needed} GPUs, but the engines get ${gpus.length} (${howGiven}). ${fits >= 1 ? `Set REPLICAS=${fits} (or auto)` : "Lower TENSOR_PARALLEL_SIZE × PIPELINE_PARALLEL_SIZE"}, or give the engines more GPUs with GPU_IDS.`,
      },
    };
  }
  const idle = gpus.slice(needed);
  if (idle.length > 0)
    notes.push(
      `${count} replica${count === 1 ? "" : "s"} × ${world} GPU${world === 1 ? "" : "s"} use ${needed} of the ${gpus.length} GPUs (${howGiven}); GPU ${idle.join(", ")} sit${idle.length === 1 ? "s" : ""} idle.`,
    );
  return {
    ok: true,
    slots: Array.from({ length: count }, (_, i) => ({
      index: i,
      gpuIds: gpus.slice(i * world, (i + 1) * world),
      enginePort: port(i),
    })),
    notes,
  };
}

function portRange(enginePort: number, count: number): Finding | null {
  if (enginePort === 0 || enginePort + count - 1 <= 65535) return null;
  return {
    variable: "ENGINE_PORT",
    message: `is ${enginePort}, and ${count} replicas take ENGINE_PORT … ENGINE_PORT+${count - 1}, past port 65535. Set ENGINE_PORT lower, or 0 for free ports.`,
  };
}

/** The replicas of a loaded config (one engine on GPU_IDS/ENGINE_PORT when loadConfig did not plan them). */
export function replicaSlotsOf(config: {
  replicaSlots?: ReplicaSlot[];
  gpuIds: "all" | number[];
  enginePort: number;
}): ReplicaSlot[] {
  return config.replicaSlots ?? [{ index: 0, gpuIds: config.gpuIds, enginePort: config.enginePort }];
}

/** The config one replica's engine is started from: its own GPUs and port, everything else shared. */
export function replicaConfig<C extends { gpuIds: "all" | number[]; enginePort: number }>(
  config: C,
  slot: ReplicaSlot,
): C {
  return { ...config, gpuIds: slot.gpuIds, enginePort: slot.enginePort };
}

/** "0,1" or "all", for messages and status. */
export function formatGpuIds(gpuIds: "all" | number[]): string {
  return gpuIds === "all" ? "all" : gpuIds.join(",");
}
