// The simulator's KV cache when SIM_KV_TOKENS is unset: what vLLM would allocate for this model and these settings
// on H100 80GB GPUs (kv-cache-fit.ts), the GPU whose prefill rate the simulator's default models. Only when the
// model's config.json is on disk and one MAX_MODEL_LEN sequence fits; otherwise the simulator sizes its cache as
// MAX_MODEL_LEN × MAX_NUM_SEQS itself.
import { estimateKvFit } from "./kv-cache-fit.js";
import type { ModelFacts } from "./model-info.js";
import type { Config } from "./types.js";

/** nvidia-smi's memory.total of an H100 80GB HBM3 (81559 MiB). */
export const SIM_GPU_BYTES = 81_559 * 1024 ** 2;

export function simKvTokens(config: Config, facts: ModelFacts | null): number | undefined {
  if (!facts) return undefined;
  const fit = estimateKvFit({
    facts,
    gpuTotalBytes: SIM_GPU_BYTES,
    gpuMemoryUtilization: config.gpuMemoryUtilization,
    tensorParallelSize: config.tensorParallelSize,
    pipelineParallelSize: config.pipelineParallelSize,
    use8bit: config.use8bit,
    maxNumBatchedTokens: config.maxNumBatchedTokens,
  });
  return fit && fit.tokens >= config.maxModelLen ? fit.tokens : undefined;
}
