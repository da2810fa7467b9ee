// Rules that need the model's own config.json: tensor parallelism divides the attention heads, pipeline
// stages do not outnumber the layers, and the context fits the model's positions. Messages follow vLLM's.
import { existsSync } from "node:fs";
import path from "node:path";
import type { EnvName } from "./env-schema.js";
import {
  isDir,
  type Located,
  locateModelConfig,
  ModelConfigError,
  type ModelFacts,
  readModelFacts,
} from "./model-info.js";

export interface Finding {
  variable: EnvName;
  message: string;
}

export interface ModelCheckInput {
  modelId?: string; // absolute path when MODEL_ID is a local folder
  modelDir?: string | null;
  defaultHubCache: string | null; // where vLLM caches models when MODEL_DIR is unset (HF_HUB_CACHE etc.)
  tensorParallelSize?: number;
  pipelineParallelSize?: number;
  maxModelLen?: number;
  /** The simulator needs no model files: a model that is not downloaded is not worth a warning then. */
  engine?: "vllm" | "sim";
}

export interface ModelCheckResult {
  facts: ModelFacts | null;
  issues: Finding[];
  warnings: string[];
}

export function divisorsOf(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) out.push(d);
  return out;
}

export function checkModel(input: ModelCheckInput): ModelCheckResult {
  const issues: Finding[] = [];
  const warnings: string[] = [];
  if (input.modelDir && !isDir(input.modelDir) && existsSync(input.modelDir)) {
    issues.push({
      variable: "MODEL_DIR",
      message: `${input.modelDir} exists but is not a folder. Point MODEL_DIR at a Hugging Face cache folder.`,
    });
  }
  if (input.modelId === undefined) return { facts: null, issues, warnings };
  if (path.isAbsolute(input.modelId) && !isDir(input.modelId)) {
    issues.push({
      variable: "MODEL_ID",
      message: `names the local folder ${input.modelId}, which does not exist. Fix the path, or use a Hugging Face repo id such as "meta-llama/Meta-Llama-3.1-8B-Instruct".`,
    });
    return { facts: null, issues, warnings };
  }
  const cacheDirs = input.modelDir ? [input.modelDir] : input.defaultHubCache ? [input.defaultHubCache] : [];
  const located: Located = locateModelConfig({ modelId: input.modelId, cacheDirs });
  if (!located.found) {
    if (path.isAbsolute(input.modelId)) {
      issues.push({
        variable: "MODEL_ID",
        message: `the folder ${input.modelId} has no config.json, so vLLM cannot load it as a model. Point MODEL_ID at the folder that holds config.json and the weights.`,
      });
    } else if (input.engine !== "sim") {
      const where = located.searched.length ? ` (looked in ${located.searched.join(", ")})` : "";
      warnings.push(
        `model ${input.modelId} is not downloaded yet${where}; 'llm-runner start' pulls it first (or run 'llm-runner pull' now), and model-aware checks (heads, layers, memory) were skipped.${located.hint ? ` Hint: ${located.hint}.` : ""}`,
      );
    }
    return { facts: null, issues, warnings };
  }
  let facts: ModelFacts;
  try {
    facts = readModelFacts(located.configPath);
  } catch (err) {
    if (!(err instanceof ModelConfigError)) throw err;
    issues.push({ variable: "MODEL_ID", message: `${err.message}. Re-download the model or fix the file.` });
    return { facts: null, issues, warnings };
  }
  const from = `(from ${facts.configPath})`;

  const tp = input.tensorParallelSize;
  if (tp !== undefined) {
    if (facts.numAttentionHeads === null) {
      warnings.push(
        `num_attention_heads not found in ${facts.configPath}; TENSOR_PARALLEL_SIZE not checked against it.`,
      );
    } else if (facts.numAttentionHeads % tp !== 0) {
      issues.push({
        variable: "TENSOR_PARALLEL_SIZE",
        message: `Total number of attention heads (${facts.numAttentionHeads}) must be divisible by tensor parallel size (${tp}) ${from}. Use one of: ${divisorsOf(facts.numAttentionHeads).join(", ")}.`,
      });
    }
  }
  const pp = input.pipelineParallelSize;
  if (pp !== undefined && facts.numHiddenLayers !== null && pp > facts.numHiddenLayers) {
    issues.push({
      variable: "PIPELINE_PARALLEL_SIZE",
      message: `${pp} pipeline stages exceed the model's ${facts.numHiddenLayers} layers (num_hidden_layers ${from}); each stage needs at least one layer. Use a value from 1 to ${facts.numHiddenLayers}.`,
    });
  }
  const len = input.maxModelLen;
  if (len !== undefined && facts.maxPositionEmbeddings !== null && len > facts.maxPositionEmbeddings) {
    issues.push({
      variable: "MAX_MODEL_LEN",
      message: `${len} tokens is more than the model's maximum context of ${facts.maxPositionEmbeddings} (max_position_embeddings ${from}); vLLM refuses to start. Set MAX_MODEL_LEN to ${facts.maxPositionEmbeddings} or less.`,
    });
  }
  return { facts, issues, warnings };
}
