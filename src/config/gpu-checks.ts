// Rules that need the host's GPUs (ENGINE=vllm only): GPU_IDS exist, TP x PP fits the GPUs the engine gets,
// and the model's weights fit in GPU memory x GPU_MEMORY_UTILIZATION. Numbers are estimates, so only a
// clear miss is an error; a tight fit is a warning.
import type { GpuInfo } from "../gpu/types.js";
import { checkKvCache, type KvCacheSummary } from "./kv-fit-check.js";
import type { Finding } from "./model-checks.js";
import { divisorsOf } from "./model-checks.js";
import type { ModelFacts } from "./model-info.js";
import { estimateWeights, GIB } from "./model-size.js";

export interface GpuCheckInput {
  gpus: GpuInfo[]; // as probed; non-empty
  gpuIds?: "all" | number[];
  tensorParallelSize?: number;
  pipelineParallelSize?: number;
  use8bit?: boolean;
  gpuMemoryUtilization?: number;
  maxModelLen?: number;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  facts: ModelFacts | null;
  /** DISTRIBUTED_EXECUTOR=ray: the engine may span more GPUs than this host has (the cluster provides them). */
  distributed?: boolean;
}

export interface GpuCheckResult {
  issues: Finding[];
  warnings: string[];
  /** The KV-cache estimate, when the model and GPUs are known and the weights fit. */
  kvCache?: KvCacheSummary;
}

// Room vLLM needs beyond weights and KV cache (activations, CUDA graphs, NCCL buffers): a rough figure.
export const ACTIVATION_RESERVE_BYTES = 2 * GIB;
const MIB = 1024 ** 2;

const gib = (bytes: number) => `${(bytes / GIB).toFixed(1)} GiB`;

export function checkGpus(input: GpuCheckInput): GpuCheckResult {
  const issues: Finding[] = [];
  const warnings: string[] = [];
  const { gpus } = input;
  const hostList = gpus.map((g) => g.index).join(", ");

  let selected = gpus;
  let given = gpus.length;
  let givenHow = `GPU_IDS=all: ${gpus.length} GPU${gpus.length === 1 ? "" : "s"} on this host`;
  if (Array.isArray(input.gpuIds)) {
    const missing = input.gpuIds.filter((id) => !gpus.some((g) => g.index === id));
    if (missing.length) {
      issues.push({
        variable: "GPU_IDS",
        message: `GPU ${missing.join(", ")} ${missing.length === 1 ? "does" : "do"} not exist: nvidia-smi shows GPU ${hostList}. List indexes from those, or use "all".`,
      });
    }
    selected = input.gpuIds.flatMap((id) => gpus.filter((g) => g.index === id));
    given = input.gpuIds.length;
    givenHow = `GPU_IDS=${input.gpuIds.join(",")}`;
  }

  const tp = input.tensorParallelSize;
  const pp = input.pipelineParallelSize;
  if (tp === undefined || pp === undefined) return { issues, warnings };
  const world = tp * pp;
  if (world > given && input.distributed) {
    warnings.push(
      `TENSOR_PARALLEL_SIZE × PIPELINE_PARALLEL_SIZE = ${world} GPUs, more than the ${given} here (${givenHow}): the Ray cluster at RAY_ADDRESS must provide the rest. 'llm-runner check' compares with 'ray status'.`,
    );
  } else if (world > given) {
    issues.push({
      variable: tp > 1 || pp === 1 ? "TENSOR_PARALLEL_SIZE" : "PIPELINE_PARALLEL_SIZE",
      message: `TENSOR_PARALLEL_SIZE × PIPELINE_PARALLEL_SIZE = ${tp} × ${pp} = ${world} GPUs, but the engine gets ${given} (${givenHow}). Lower them so the product is at most ${given}, or give the engine more GPUs with GPU_IDS. (Spreading one model over several machines needs vLLM's multi-node Ray backend, which llm-runner does not set up.)`,
    });
  } else if (world < given && Array.isArray(input.gpuIds)) {
    warnings.push(
      `GPU_IDS gives the engine ${given} GPUs but TENSOR_PARALLEL_SIZE × PIPELINE_PARALLEL_SIZE = ${world}: vLLM uses only the first ${world}, the rest sit idle.`,
    );
  }

  const used = selected.slice(0, Math.max(1, Math.min(world, selected.length)));
  const util = input.gpuMemoryUtilization;
  if (used.length === 0 || util === undefined) return { issues, warnings };

  for (const g of used) {
    if (g.memoryFreeMiB < g.memoryTotalMiB * util) {
      const fits = Math.floor((g.memoryFreeMiB / g.memoryTotalMiB) * 100) / 100;
      warnings.push(
        `GPU ${g.index} has ${gib(g.memoryFreeMiB * MIB)} free of ${gib(g.memoryTotalMiB * MIB)} (another process holds memory); vLLM needs GPU_MEMORY_UTILIZATION × total = ${gib(g.memoryTotalMiB * MIB * util)} free at start and will refuse. Free the GPU, or set GPU_MEMORY_UTILIZATION=${fits} or lower.`,
      );
    }
  }

  const facts = input.facts;
  const weights = facts ? estimateWeights(facts, input.use8bit ?? false) : null;
  if (!facts || !weights) return { issues, warnings };
  const smallest = used.reduce((a, b) => (b.memoryTotalMiB < a.memoryTotalMiB ? b : a));
  const totalBytes = smallest.memoryTotalMiB * MIB;
  const budget = totalBytes * util;
  const perGpu = weights.bytes / world;
  const gpuDesc = `GPU ${smallest.index} (${smallest.name}, ${gib(totalBytes)})`;

  if (perGpu > budget) {
    const fixes: string[] = [];
    const heads = facts.numAttentionHeads;
    const tpFit = heads
      ? divisorsOf(heads).find((d) => d > tp && weights.bytes / (d * pp) <= budget)
      : undefined;
    if (tpFit !== undefined) {
      const avail = tpFit * pp <= given ? "" : `; the engine has ${given} GPU${given === 1 ? "" : "s"} now`;
      fixes.push(
        `TENSOR_PARALLEL_SIZE=${tpFit} (~${gib(weights.bytes / (tpFit * pp))} per GPU, needs ${tpFit * pp} GPUs${avail})`,
      );
    }
    if (!input.use8bit && facts.quantBits === null) {
      const w8 = estimateWeights(facts, true);
      if (w8 && w8.bytes / world <= budget) fixes.push(`USE_8BIT=true (~${gib(w8.bytes / world)} per GPU)`);
    }
    const needed = Math.ceil(((perGpu + ACTIVATION_RESERVE_BYTES) / totalBytes) * 100) / 100;
    if (needed <= 0.98 && needed > util) fixes.push(`GPU_MEMORY_UTILIZATION=${needed} or higher`);
    const fixText = fixes.length
      ? `Fix: ${fixes.join("; or ")}.`
      : "No single setting makes it fit on these GPUs: use more or larger GPUs, or a smaller model.";
    issues.push({
      variable: "MODEL_ID",
      message: `the weights alone need ~${gib(perGpu)} per GPU (${(weights.params / 1e9).toFixed(2)} B parameters, ~${gib(weights.bytes)} in all${input.use8bit ? " with 8-bit" : ""}, split over TP × PP = ${world}), but ${gpuDesc} gives the engine ${gib(budget)} at GPU_MEMORY_UTILIZATION=${util}. ${fixText}`,
    });
    return { issues, warnings };
  }

  const len = input.maxModelLen;
  if (len === undefined) return { issues, warnings };
  const kv = checkKvCache({
    facts,
    gpuTotalBytes: totalBytes,
    gpuMemoryUtilization: util,
    tensorParallelSize: tp,
    pipelineParallelSize: pp,
    use8bit: input.use8bit ?? false,
    // vLLM's profile run covers one batch of this many tokens; 8192 is our MAX_NUM_BATCHED_TOKENS default.
    maxNumBatchedTokens: input.maxNumBatchedTokens ?? 8192,
    maxModelLen: len,
    ...(input.maxNumSeqs !== undefined ? { maxNumSeqs: input.maxNumSeqs } : {}),
    gpusGiven: given,
    gpuDesc,
  });
  if (kv.issue) issues.push(kv.issue);
  if (kv.warning) warnings.push(kv.warning);
  return kv.summary ? { issues, warnings, kvCache: kv.summary } : { issues, warnings };
}
