// Predicts the KV cache vLLM will allocate, the way vLLM sizes it at start-up: it asks for
// GPU memory x GPU_MEMORY_UTILIZATION, subtracts the weights, the peak activation of a profile run and the
// memory outside PyTorch, and gives the rest to the KV cache in blocks of 16 tokens (vllm/v1/worker/gpu_worker.py
// determine_available_memory; vllm/v1/core/kv_cache_utils.py). Calibrated against published start-up logs in
// test/fixtures/vllm/kv-calibration.json: the estimate is within KV_ESTIMATE_ERROR of what vLLM reported.
// CUDA graphs are not subtracted: vLLM V1 captures them after the KV cache is allocated, in the memory that
// GPU_MEMORY_UTILIZATION leaves out (its log prints "Graph capturing finished ..." after "GPU KV cache size").
import type { ModelFacts } from "./model-info.js";
import { dtypeBytes, estimateWeights, GIB } from "./model-size.js";

/** The estimate's error band, from the calibration table (worst in-band row: see kv-cache-fit.test.ts). */
export const KV_ESTIMATE_ERROR = 0.15;
/** vLLM's default KV block size for CUDA attention backends: the cache is a whole number of blocks. */
const BLOCK_TOKENS = 16;
/** Memory outside PyTorch's allocator on every GPU: CUDA context, cuBLAS workspaces. */
const NON_TORCH_BYTES = 0.5 * GIB;
/** Extra on each GPU when it talks to others: NCCL buffers and the custom all-reduce. */
const MULTI_GPU_BYTES = 0.5 * GIB;
/**
 * nvidia-smi's memory.total includes memory the driver keeps; CUDA reports ~0.5 GiB less, and vLLM
 * multiplies that by GPU_MEMORY_UTILIZATION (H100 80GB: 81559 MiB = 79.6 GiB in nvidia-smi, 79.1 GiB
 * in vLLM's logs; RTX 3090: 24576 MiB = 24.0 GiB vs total_gpu_memory=23.58GiB in vllm#10517).
 */
const DRIVER_RESERVED_BYTES = 0.5 * GIB;

export interface KvFitInput {
  facts: ModelFacts;
  gpuTotalBytes: number; // nvidia-smi memory.total of the smallest GPU the engine uses
  gpuMemoryUtilization: number;
  tensorParallelSize: number;
  pipelineParallelSize: number;
  use8bit: boolean;
  maxNumBatchedTokens: number;
  /** vLLM's --kv-cache-dtype; "auto" (the default) stores keys and values in the model's dtype. */
  kvCacheDtype?: string;
}

export interface KvFit {
  bytesPerToken: number; // KV bytes per token on one GPU of the TP x PP group
  weightsBytes: number; // per GPU
  activationBytes: number; // peak of the profile run, per GPU
  overheadBytes: number; // outside PyTorch, per GPU
  budgetBytes: number; // GPU memory x GPU_MEMORY_UTILIZATION
  kvBytes: number; // what is left for the KV cache, per GPU (may be negative)
  tokens: number; // KV cache size in tokens for the whole TP x PP group
}

/** KV-cache bytes per token on one GPU: keys and values of the layers and KV heads that GPU holds. */
export function kvBytesPerToken(m: ModelFacts, tp: number, pp: number, kvCacheDtype = "auto"): number | null {
  const h = m.hiddenSize;
  const heads = m.numAttentionHeads;
  const layers = m.numHiddenLayers;
  if (h === null || heads === null || layers === null) return null;
  const headDim = m.headDim ?? h / heads;
  const kvHeads = m.numKeyValueHeads ?? heads;
  // With fewer KV heads than TP ranks, vLLM replicates them: each GPU still holds at least one.
  const kvHeadsPerGpu = Math.max(1, Math.ceil(kvHeads / tp));
  const layersPerGpu = Math.ceil(layers / pp);
  return 2 * layersPerGpu * kvHeadsPerGpu * headDim * kvElementBytes(kvCacheDtype);
}

function kvElementBytes(kvCacheDtype: string): number {
  if (kvCacheDtype.startsWith("fp8")) return 1;
  if (kvCacheDtype !== "auto") return dtypeBytes(kvCacheDtype);
  // "auto" follows the model's compute dtype; fp32 checkpoints and fp8 weights still compute in 16 bits.
  return 2;
}

/**
 * Peak activation of vLLM's profile run (a forward pass over MAX_NUM_BATCHED_TOKENS tokens). The MLP
 * dominates: gate and up outputs (2 x intermediate) plus the activation output and a temporary
 * (2 x intermediate more), in 16-bit. Fitted on the
 * published peak_torch_memory - weights figures of vllm#10517 (Llama 3.1 8B: 2.07 GiB at 20000 tokens,
 * 2.99 GiB at 29000 tokens: ~111 kB a token; 4 x 14336 x 2 bytes = 115 kB).
 */
export function activationBytes(m: ModelFacts, tp: number, batchedTokens: number): number {
  const h = m.hiddenSize ?? 0;
  const inter =
    (m.numExperts && m.numExperts > 1 ? m.moeIntermediateSize : null) ?? m.intermediateSize ?? 4 * h;
  return batchedTokens * 4 * (inter / tp) * 2;
}

export function estimateKvFit(input: KvFitInput): KvFit | null {
  const { facts, tensorParallelSize: tp, pipelineParallelSize: pp } = input;
  const weights = estimateWeights(facts, input.use8bit);
  const bytesPerToken = kvBytesPerToken(facts, tp, pp, input.kvCacheDtype);
  if (!weights || !bytesPerToken) return null;
  const weightsBytes = weights.bytes / (tp * pp);
  const activation = activationBytes(facts, tp, input.maxNumBatchedTokens);
  const overheadBytes = NON_TORCH_BYTES + (tp * pp > 1 ? MULTI_GPU_BYTES : 0);
  const budgetBytes = (input.gpuTotalBytes - DRIVER_RESERVED_BYTES) * input.gpuMemoryUtilization;
  const kvBytes = budgetBytes - weightsBytes - activation - overheadBytes;
  const blocks = Math.max(0, Math.floor(kvBytes / (bytesPerToken * BLOCK_TOKENS)));
  return {
    bytesPerToken,
    weightsBytes,
    activationBytes: activation,
    overheadBytes,
    budgetBytes,
    kvBytes,
    tokens: blocks * BLOCK_TOKENS,
  };
}

export type KvVerdict = "fits" | "tight" | "short";

/**
 * "short": MAX_MODEL_LEN is beyond the estimate even at the top of its error band, so vLLM will refuse to
 * start. "tight": within the band, vLLM may or may not start. "fits": below the band.
 */
export function judgeKvFit(tokens: number, maxModelLen: number): KvVerdict {
  if (maxModelLen > tokens * (1 + KV_ESTIMATE_ERROR)) return "short";
  if (maxModelLen > tokens * (1 - KV_ESTIMATE_ERROR)) return "tight";
  return "fits";
}

/** A MAX_MODEL_LEN that clears the band: the estimate less its error, rounded down to a multiple of 1024. */
export function safeMaxModelLen(tokens: number): number {
  return Math.floor((tokens * (1 - KV_ESTIMATE_ERROR)) / 1024) * 1024;
}
