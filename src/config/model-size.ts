// Estimates of a decoder-only transformer's weight size and KV-cache cost from its config.json facts.
// They drive a fit check that only fails when the weights alone clearly cannot fit, so an estimate within a
// few percent is enough (Llama 3.1 8B: 8.03 B parameters; 70B: 70.6 B).
import type { ModelFacts } from "./model-info.js";

export interface ParamEstimate {
  total: number;
  embedding: number; // input embeddings + lm_head (kept at full width by bitsandbytes)
  linear: number; // attention + MLP projections (what 8-bit quantisation shrinks)
  other: number; // norms and biases
}

// Families whose MLP is gated (gate, up, down: three matrices). Others (GPT-2, OPT, ...) have two.
const GATED_MLP_TYPES =
  /llama|mistral|mixtral|qwen|gemma|phi3|granite|olmo|cohere|internlm|deepseek|yi|baichuan/i;

export function estimateParams(m: ModelFacts): ParamEstimate | null {
  const h = m.hiddenSize;
  const layers = m.numHiddenLayers;
  const heads = m.numAttentionHeads;
  const vocab = m.vocabSize;
  if (h === null || layers === null || heads === null || vocab === null) return null;
  const headDim = m.headDim ?? h / heads;
  const kvHeads = m.numKeyValueHeads ?? heads;
  const qDim = heads * headDim;
  const kvDim = kvHeads * headDim;
  const attention = h * qDim + 2 * h * kvDim + qDim * h;
  const attentionBias = m.attentionBias ? qDim + 2 * kvDim + h : 0;
  const gated = (m.modelType !== null && GATED_MLP_TYPES.test(m.modelType)) || m.hiddenAct === "silu";
  const mats = gated ? 3 : 2;
  const experts = m.numExperts ?? 1;
  const inter = (experts > 1 ? m.moeIntermediateSize : null) ?? m.intermediateSize ?? 4 * h;
  const mlp = experts * mats * h * inter + (experts > 1 ? h * experts : 0);
  const mlpBias = m.mlpBias ? experts * ((mats - 1) * inter + h) : 0;
  const norms = 2 * h;
  const embedding = vocab * h * (m.tieWordEmbeddings ? 1 : 2);
  const linear = layers * (attention + mlp);
  const other = layers * (attentionBias + mlpBias + norms) + h;
  return { total: embedding + linear + other, embedding, linear, other };
}

/** Bytes per parameter for a dtype name from config.json (torch_dtype). */
export function dtypeBytes(dtype: string | null): number {
  switch ((dtype ?? "bfloat16").toLowerCase().replace(/^torch\./, "")) {
    case "float32":
    case "fp32":
      return 4;
    case "float8_e4m3fn":
    case "float8_e5m2":
    case "fp8":
    case "int8":
      return 1;
    default:
      return 2; // bfloat16 / float16 / auto: what vLLM loads a checkpoint in
  }
}

export interface WeightEstimate {
  params: number;
  bytes: number;
  bytesPerParamLinear: number;
}

// bitsandbytes LLM.int8 keeps per-row scales next to the int8 weights; a small overhead on the linear layers.
const INT8_OVERHEAD = 1.02;

/** Weight bytes as vLLM would load them: 8-bit shrinks the linear layers, embeddings stay at full width. */
export function estimateWeights(m: ModelFacts, use8bit: boolean): WeightEstimate | null {
  const p = estimateParams(m);
  if (!p) return null;
  const full = m.torchDtype && dtypeBytes(m.torchDtype) === 4 ? 2 : dtypeBytes(m.torchDtype); // fp32 loads as bf16
  let linearBytes = full;
  if (m.quantBits !== null) linearBytes = (m.quantBits / 8) * INT8_OVERHEAD;
  else if (use8bit) linearBytes = INT8_OVERHEAD;
  const bytes = p.linear * linearBytes + (p.embedding + p.other) * full;
  return { params: p.total, bytes, bytesPerParamLinear: linearBytes };
}

export const GIB = 1024 ** 3;
