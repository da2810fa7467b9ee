// The KV-cache rule of the GPU checks: vLLM refuses to start, after loading every weight, when one
// MAX_MODEL_LEN sequence does not fit its KV cache ("The model's max seq len (N) is larger than the maximum
// number of tokens that can be stored in KV cache (M)"). We predict M before any load: beyond the estimate's
// error band it is an error with the fixes, inside the band a warning.

import {
  estimateKvFit,
  judgeKvFit,
  KV_ESTIMATE_ERROR,
  type KvFit,
  type KvFitInput,
  type KvVerdict,
  safeMaxModelLen,
} from "./kv-cache-fit.js";
import { divisorsOf, type Finding } from "./model-checks.js";
import { GIB } from "./model-size.js";

export interface KvCacheSummary {
  tokens: number; // estimated KV cache size of one TP x PP group
  maxModelLen: number;
  maxNumSeqs: number | undefined;
  /** Sequences of MAX_MODEL_LEN tokens that fit at once (vLLM's "Maximum concurrency"). */
  concurrency: number;
  verdict: KvVerdict;
}

export interface KvCheckInput extends KvFitInput {
  maxModelLen: number;
  maxNumSeqs?: number;
  gpusGiven: number; // GPUs the engine gets (for the TENSOR_PARALLEL_SIZE fix)
  gpuDesc: string; // "GPU 0 (NVIDIA H100 80GB HBM3, 79.6 GiB)"
}

const gib = (bytes: number) => `${(bytes / GIB).toFixed(1)} GiB`;
const count = (n: number) => n.toLocaleString("en-US");
const pct = `±${Math.round(KV_ESTIMATE_ERROR * 100)} %`;

export function checkKvCache(input: KvCheckInput): {
  issue?: Finding;
  warning?: string;
  summary?: KvCacheSummary;
} {
  const fit = estimateKvFit(input);
  if (!fit) return {};
  const len = input.maxModelLen;
  const verdict = judgeKvFit(fit.tokens, len);
  const summary: KvCacheSummary = {
    tokens: fit.tokens,
    maxModelLen: len,
    maxNumSeqs: input.maxNumSeqs,
    concurrency: fit.tokens / len,
    verdict,
  };
  if (verdict === "fits") return { summary };

  const room = `on ${input.gpuDesc} at GPU_MEMORY_UTILIZATION=${input.gpuMemoryUtilization}, ~${gib(fit.weightsBytes)} of weights and ~${gib(fit.activationBytes + fit.overheadBytes)} of activations and overhead per GPU leave ~${gib(Math.max(0, fit.kvBytes))} for the KV cache (${count(Math.round(fit.bytesPerToken / 1024))} KiB a token per GPU, TP × PP = ${input.tensorParallelSize} × ${input.pipelineParallelSize})`;
  const fixes = kvFixes(input, fit);
  const fixText = fixes.length
    ? `Fix: ${fixes.join("; or ")}.`
    : "No single setting makes one sequence fit: use more or larger GPUs, or a smaller model.";
  if (verdict === "short") {
    return {
      summary,
      issue: {
        variable: "MAX_MODEL_LEN",
        message: `${len} tokens do not fit the KV cache: ${room}, room for ≈ ${count(fit.tokens)} tokens (${pct}), less than one MAX_MODEL_LEN sequence. vLLM would load the weights, then refuse to start. ${fixText}`,
      },
    };
  }
  return {
    summary,
    warning: `MAX_MODEL_LEN=${len} is within the estimate's ${pct} of the KV cache room: ${room}, room for ≈ ${count(fit.tokens)} tokens. vLLM may refuse to start after loading the weights. To be sure: ${fixes.join("; or ") || "use more or larger GPUs"}.`,
  };
}

function kvFixes(input: KvCheckInput, fit: KvFit): string[] {
  const len = input.maxModelLen;
  const fits = (over: Partial<KvFitInput>) => {
    const f = estimateKvFit({ ...input, ...over });
    return f !== null && judgeKvFit(f.tokens, len) === "fits";
  };
  const fixes: string[] = [];
  const safe = safeMaxModelLen(fit.tokens);
  if (safe >= 1024) fixes.push(`MAX_MODEL_LEN=${safe} or lower`);
  for (let u = Math.round(input.gpuMemoryUtilization * 100) + 1; u <= 98; u++) {
    if (fits({ gpuMemoryUtilization: u / 100 })) {
      fixes.push(`GPU_MEMORY_UTILIZATION=${u / 100}`);
      break;
    }
  }
  // A long MAX_NUM_BATCHED_TOKENS makes the profile run's activations eat the KV room; vLLM chunks prefill.
  for (const batched of [8192, 2048]) {
    if (batched < input.maxNumBatchedTokens && fits({ maxNumBatchedTokens: batched })) {
      fixes.push(`MAX_NUM_BATCHED_TOKENS=${batched} (less activation memory; vLLM chunks longer prompts)`);
      break;
    }
  }
  const heads = input.facts.numAttentionHeads;
  const tp = heads
    ? divisorsOf(heads).find((d) => d > input.tensorParallelSize && fits({ tensorParallelSize: d }))
    : undefined;
  if (tp !== undefined) {
    const need = tp * input.pipelineParallelSize;
    const have =
      need <= input.gpusGiven
        ? ""
        : `; the engine has ${input.gpusGiven} GPU${input.gpusGiven === 1 ? "" : "s"} now`;
    fixes.push(`TENSOR_PARALLEL_SIZE=${tp} (needs ${need} GPUs${have})`);
  }
  if (!input.use8bit && input.facts.quantBits === null && fits({ use8bit: true }))
    fixes.push("USE_8BIT=true");
  return fixes;
}

/** The line `check` and `flags` print: "KV cache ≈ N tokens, max concurrency at full length ≈ X×". */
export function formatKvCacheLine(s: KvCacheSummary): string {
  const x = s.concurrency >= 10 ? s.concurrency.toFixed(0) : s.concurrency.toFixed(2);
  const seqs =
    s.maxNumSeqs === undefined
      ? ""
      : s.maxNumSeqs > s.concurrency
        ? ` (MAX_NUM_SEQS=${s.maxNumSeqs}: that many full-length sequences would not fit at once; shorter ones share the room)`
        : ` (MAX_NUM_SEQS=${s.maxNumSeqs})`;
  return `KV cache ≈ ${count(s.tokens)} tokens (${pct} estimate), max concurrency at full length (MAX_MODEL_LEN=${s.maxModelLen}) ≈ ${x}×${seqs}`;
}
