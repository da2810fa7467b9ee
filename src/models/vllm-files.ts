// Which files of a model repo vLLM reads, so a pull fetches only those. Mirrors vLLM's DefaultModelLoader
// (vllm/model_executor/model_loader/default_loader.py `_prepare_weights`, v0.10): weights are the first of
// *.safetensors, *.bin, *.pt that the repo has; `original/` is ignored (LoadConfig.ignore_patterns default
// "original/**/*"); with safetensors, shards not named in model.safetensors.index.json are dropped
// (`filter_duplicate_safetensors_files`, e.g. Mistral's extra consolidated.safetensors); with .bin, training
// leftovers are dropped (`filter_files_not_needed_for_inference`). Config, tokenizer and generation config
// are the small top-level files transformers reads.

export interface RepoFile {
  path: string;
  size: number;
}

export const SAFETENSORS_INDEX = "model.safetensors.index.json";

const WEIGHT_PATTERNS = [".safetensors", ".bin", ".pt"] as const;
const NOT_FOR_INFERENCE = new Set([
  "training_args.bin",
  "optimizer.bin",
  "optimizer.pt",
  "scheduler.pt",
  "scaler.pt",
]);
// Small top-level files transformers/vLLM read: config.json, generation_config.json, tokenizer.json,
// tokenizer_config.json, special_tokens_map.json, tokenizer.model, vocab.json/txt, merges.txt,
// chat_template.jinja, params.json and tekken.json (Mistral), *.tiktoken.
const SUPPORT_EXTENSIONS = [".json", ".txt", ".model", ".jinja", ".tiktoken"] as const;

function baseName(p: string): string {
  return p.slice(p.lastIndexOf("/") + 1);
}

function ignored(p: string): boolean {
  return p.startsWith("original/") || p.split("/").some((part) => part.startsWith("."));
}

export interface Selection<T extends RepoFile> {
  weights: T[];
  support: T[];
  format: "safetensors" | "bin" | "pt";
  /** The safetensors index, when the repo has one: download it first and pass its weight map to `filterByIndex`. */
  index: T | null;
}

/** Picks the files vLLM loads. Throws when the repo has no weights vLLM can load. */
export function selectVllmFiles<T extends RepoFile>(files: T[]): Selection<T> {
  const candidates = files.filter((f) => !ignored(f.path));
  let weights: T[] = [];
  let format: Selection<T>["format"] = "safetensors";
  for (const ext of WEIGHT_PATTERNS) {
    // vLLM globs the snapshot folder itself (glob "*.safetensors" does not descend), so only top-level files.
    weights = candidates.filter((f) => !f.path.includes("/") && f.path.endsWith(ext));
    if (ext !== ".safetensors") weights = weights.filter((f) => !NOT_FOR_INFERENCE.has(baseName(f.path)));
    if (weights.length > 0) {
      format = ext.slice(1) as Selection<T>["format"];
      break;
    }
  }
  if (weights.length === 0) {
    const seen = candidates.map((f) => f.path).slice(0, 8);
    throw new NoWeightsError(
      `the repo has no weights vLLM can load (*.safetensors, *.bin or *.pt); it has: ${seen.join(", ") || "no files"}${candidates.length > 8 ? ", …" : ""}`,
    );
  }
  const weightPaths = new Set(weights.map((w) => w.path));
  const support = candidates.filter(
    (f) =>
      !f.path.includes("/") &&
      !weightPaths.has(f.path) &&
      SUPPORT_EXTENSIONS.some((ext) => f.path.endsWith(ext)),
  );
  const index = format === "safetensors" ? (support.find((f) => f.path === SAFETENSORS_INDEX) ?? null) : null;
  return { weights, support, format, index };
}

export class NoWeightsError extends Error {
  override readonly name = "NoWeightsError";
}

/**
 * Keeps the safetensors shards the index names (as vLLM does when the repo has more than one). `indexJson` is
 * the index file's text; a malformed index keeps every shard, as vLLM then would load them all.
 */
export function filterByIndex<T extends RepoFile>(weights: T[], indexJson: string): T[] {
  let named: Set<string>;
  try {
    const map = (JSON.parse(indexJson) as { weight_map?: Record<string, string> }).weight_map;
    if (!map || typeof map !== "object") return weights;
    named = new Set(Object.values(map));
  } catch {
    return weights;
  }
  const kept = weights.filter((w) => named.has(w.path));
  return kept.length > 0 ? kept : weights;
}

/**
 * Optional files transformers and vLLM look for when loading a config and tokenizer. Those a repo lacks are
 * marked absent in the cache (see markAbsent), so an offline engine does not trip over them.
 */
export const OPTIONAL_PROBED_FILES = [
  "added_tokens.json",
  "special_tokens_map.json",
  "tokenizer_config.json",
  "tokenizer.json",
  "tokenizer.model",
  "chat_template.jinja",
  "chat_template.json",
  "generation_config.json",
  "preprocessor_config.json",
  "processor_config.json",
  "video_preprocessor_config.json",
  "params.json",
  "tekken.json",
] as const;
