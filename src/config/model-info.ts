// Where a model's config.json is, and the facts in it that the config checks need.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

export interface ModelFacts {
  configPath: string;
  modelType: string | null;
  numAttentionHeads: number | null;
  numKeyValueHeads: number | null;
  numHiddenLayers: number | null;
  hiddenSize: number | null;
  headDim: number | null;
  intermediateSize: number | null;
  vocabSize: number | null;
  maxPositionEmbeddings: number | null;
  tieWordEmbeddings: boolean;
  torchDtype: string | null;
  hiddenAct: string | null;
  attentionBias: boolean;
  mlpBias: boolean;
  numExperts: number | null; // mixture-of-experts models
  moeIntermediateSize: number | null;
  quantBits: number | null; // a pre-quantized checkpoint (quantization_config.bits, 8 for fp8, compressed-tensors num_bits)
}

export class ModelConfigError extends Error {
  override readonly name = "ModelConfigError";
}

/** "org/name" -> "models--org--name", the folder name of a repo in a Hugging Face hub cache. */
export function hfCacheFolderName(repoId: string): string {
  return `models--${repoId.split("/").join("--")}`;
}

export interface LocateInput {
  modelId: string; // absolute path for a local folder (as loadConfig normalises it), else a repo id
  cacheDirs: string[]; // hub caches to search, in order (MODEL_DIR first)
}

export type Located =
  | { found: true; configPath: string }
  | { found: false; searched: string[]; hint?: string };

/**
 * Finds config.json for a model: in the local folder, or in a hub cache as
 * models--ORG--NAME/snapshots/<rev>/config.json, preferring the revision refs/main points at, else the newest.
 */
export function locateModelConfig(input: LocateInput): Located {
  if (path.isAbsolute(input.modelId)) {
    const p = path.join(input.modelId, "config.json");
    return existsSync(p) ? { found: true, configPath: p } : { found: false, searched: [p] };
  }
  const searched: string[] = [];
  let hint: string | undefined;
  for (const cache of input.cacheDirs) {
    const repoDir = path.join(cache, hfCacheFolderName(input.modelId));
    searched.push(repoDir);
    const hit = snapshotConfig(repoDir);
    if (hit) return { found: true, configPath: hit };
    // HF_HOME holds the hub cache in hub/; pointing at HF_HOME itself is a common slip.
    const nested = path.join(cache, "hub", hfCacheFolderName(input.modelId));
    if (!hint && snapshotConfig(nested)) {
      hint = `the model is in ${path.join(cache, "hub")}; point MODEL_DIR there (vLLM's --download-dir is the hub folder itself)`;
    }
  }
  return hint ? { found: false, searched, hint } : { found: false, searched };
}

function snapshotConfig(repoDir: string): string | null {
  const snapshots = path.join(repoDir, "snapshots");
  if (!isDir(snapshots)) return null;
  const refMain = path.join(repoDir, "refs", "main");
  if (existsSync(refMain)) {
    const rev = readFileSync(refMain, "utf8").trim();
    const p = path.join(snapshots, rev, "config.json");
    if (rev !== "" && existsSync(p)) return p;
  }
  const candidates = readdirSync(snapshots)
    .map((rev) => path.join(snapshots, rev, "config.json"))
    .filter((p) => existsSync(p))
    .map((p) => ({ p, mtime: statSync(path.dirname(p)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime || a.p.localeCompare(b.p));
  return candidates[0]?.p ?? null;
}

export function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Reads config.json; multimodal models keep the language model's facts under text_config. */
export function readModelFacts(configPath: string): ModelFacts {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(configPath, "utf8"));
  } catch (err) {
    throw new ModelConfigError(
      `cannot read the model's ${configPath}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ModelConfigError(`the model's ${configPath} is not a JSON object`);
  }
  const top = json as Record<string, unknown>;
  const text =
    typeof top.text_config === "object" && top.text_config !== null
      ? { ...top, ...(top.text_config as Record<string, unknown>) }
      : top;
  const num = (...keys: string[]): number | null => {
    for (const k of keys) {
      const v = text[k];
      if (typeof v === "number" && Number.isFinite(v) && v > 0) return v;
    }
    return null;
  };
  const str = (...keys: string[]): string | null => {
    for (const k of keys) {
      const v = text[k];
      if (typeof v === "string" && v !== "") return v;
    }
    return null;
  };
  const heads = num("num_attention_heads", "n_head", "num_heads");
  const quant = top.quantization_config as Record<string, unknown> | undefined;
  const quantBits =
    typeof quant?.bits === "number"
      ? quant.bits
      : quant?.quant_method === "fp8"
        ? 8
        : compressedTensorsBits(quant);
  return {
    configPath,
    modelType: str("model_type"),
    numAttentionHeads: heads,
    numKeyValueHeads: num("num_key_value_heads", "num_kv_heads") ?? heads,
    numHiddenLayers: num("num_hidden_layers", "n_layer", "num_layers"),
    hiddenSize: num("hidden_size", "n_embd", "d_model"),
    headDim: num("head_dim"),
    intermediateSize: num("intermediate_size", "n_inner", "ffn_dim"),
    vocabSize: num("vocab_size"),
    maxPositionEmbeddings: num("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"),
    tieWordEmbeddings: text.tie_word_embeddings === true,
    torchDtype: str("torch_dtype", "dtype"),
    hiddenAct: str("hidden_act", "activation_function"),
    attentionBias: text.attention_bias === true,
    mlpBias: text.mlp_bias === true,
    numExperts: num("num_local_experts", "num_experts", "n_routed_experts"),
    moeIntermediateSize: num("moe_intermediate_size"),
    quantBits,
  };
}

// compressed-tensors checkpoints (e.g. neuralmagic's w8a8, w4a16) give the weight width per config group.
function compressedTensorsBits(quant: Record<string, unknown> | undefined): number | null {
  if (quant?.quant_method !== "compressed-tensors") return null;
  const groups = quant.config_groups;
  if (typeof groups !== "object" || groups === null) return null;
  for (const g of Object.values(groups as Record<string, unknown>)) {
    const bits = (g as { weights?: { num_bits?: unknown } } | null)?.weights?.num_bits;
    if (typeof bits === "number" && bits > 0) return bits;
  }
  return null;
}
