// The repos the fake hub serves: files with their hashes as the hub computes them, and a tiny Llama-like model.
import { createHash, randomBytes } from "node:crypto";

export interface FakeFile {
  path: string;
  content: Buffer;
  lfs: boolean;
}

export interface FakeRepo {
  id: string;
  commit: string;
  files: FakeFile[];
  gated?: false | "manual" | "auto";
  tokens?: string[]; // tokens whose account accepted the licence (gated repos)
}

export function gitBlobSha1(content: Buffer): string {
  return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}

const sha256s = new WeakMap<Buffer, string>(); // the fake hub names a file by it on every request

export function sha256(content: Buffer): string {
  let hex = sha256s.get(content);
  if (hex === undefined) {
    hex = createHash("sha256").update(content).digest("hex");
    sha256s.set(content, hex);
  }
  return hex;
}

/** What the cache names a file's blob: sha256 for LFS files, git blob sha1 for the rest. */
export function etagOf(file: FakeFile): string {
  return file.lfs ? sha256(file.content) : gitBlobSha1(file.content);
}

/** A tiny model tree like a real Llama repo: what vLLM loads, plus what it must not download. */
export function tinyModel(
  id = "acme/tiny-llama",
  commit = "0123456789abcdef0123456789abcdef01234567",
): FakeRepo {
  const bytes = (n: number, seed: number) => {
    const b = Buffer.alloc(n);
    let x = seed;
    for (let i = 0; i < n; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      b[i] = x >>> 24;
    }
    return b;
  };
  const text = (s: unknown) => Buffer.from(typeof s === "string" ? s : JSON.stringify(s, null, 2));
  const shard1 = "model-00001-of-00002.safetensors";
  const shard2 = "model-00002-of-00002.safetensors";
  return {
    id,
    commit,
    files: [
      {
        path: ".gitattributes",
        content: text("*.safetensors filter=lfs diff=lfs merge=lfs -text\n"),
        lfs: false,
      },
      { path: "README.md", content: text("# tiny llama\n"), lfs: false },
      {
        path: "config.json",
        content: text({
          architectures: ["LlamaForCausalLM"],
          model_type: "llama",
          hidden_size: 64,
          intermediate_size: 128,
          num_attention_heads: 4,
          num_key_value_heads: 2,
          num_hidden_layers: 2,
          max_position_embeddings: 2048,
          vocab_size: 256,
          torch_dtype: "bfloat16",
        }),
        lfs: false,
      },
      { path: "generation_config.json", content: text({ bos_token_id: 1, eos_token_id: 2 }), lfs: false },
      {
        path: "tokenizer.json",
        content: text({ version: "1.0", model: { type: "BPE", vocab: { a: 0 } } }),
        lfs: false,
      },
      {
        path: "tokenizer_config.json",
        content: text({ tokenizer_class: "PreTrainedTokenizerFast" }),
        lfs: false,
      },
      { path: "special_tokens_map.json", content: text({ bos_token: "<s>" }), lfs: false },
      {
        path: "model.safetensors.index.json",
        content: text({
          metadata: { total_size: 1 },
          weight_map: { "a.weight": shard1, "b.weight": shard2 },
        }),
        lfs: false,
      },
      { path: shard1, content: bytes(300_000, 1), lfs: true },
      { path: shard2, content: bytes(200_000, 2), lfs: true },
      // Not for vLLM: a shard the index does not name (like Mistral-7B-v0.3's duplicate consolidated file),
      // the .bin copy of the weights, and Meta's original checkpoint.
      { path: "extra-unindexed.safetensors", content: bytes(50_000, 3), lfs: true },
      { path: "pytorch_model.bin", content: bytes(60_000, 4), lfs: true },
      { path: "original/consolidated.00.pth", content: bytes(70_000, 5), lfs: true },
      { path: "original/params.json", content: text({ dim: 64 }), lfs: false },
    ],
  };
}

/** The files of tinyModel() a pull must fetch. */
export const TINY_VLLM_FILES = [
  "config.json",
  "generation_config.json",
  "model-00001-of-00002.safetensors",
  "model-00002-of-00002.safetensors",
  "model.safetensors.index.json",
  "special_tokens_map.json",
  "tokenizer.json",
  "tokenizer_config.json",
];

/**
 * A model whose weights are large: one `model.safetensors`, or shards with their index, of random bytes (each
 * run its own). For parts fetched side by side and for the pull bench.
 */
export function bigModel(
  id: string,
  shardSizes: number[],
  commit = "89abcdef0123456789abcdef0123456789abcdef",
): FakeRepo {
  const tiny = tinyModel(id, commit);
  const keep = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"];
  const small = tiny.files.filter((f) => keep.includes(f.path));
  const n = shardSizes.length;
  const name = (i: number) =>
    n === 1
      ? "model.safetensors"
      : `model-${String(i + 1).padStart(5, "0")}-of-${String(n).padStart(5, "0")}.safetensors`;
  const shards = shardSizes.map((size, i) => ({ path: name(i), content: randomBytes(size), lfs: true }));
  const index =
    n === 1
      ? []
      : [
          {
            path: "model.safetensors.index.json",
            content: Buffer.from(
              JSON.stringify({
                metadata: { total_size: shardSizes.reduce((a, b) => a + b, 0) },
                weight_map: Object.fromEntries(shards.map((s, i) => [`layer${i}.weight`, s.path])),
              }),
            ),
            lfs: false,
          },
        ];
  return { id, commit, files: [...small, ...index, ...shards] };
}
