// The prompt as a chain of block hashes, for ROUTER=prefix. The gateway sees text, not the engine's tokens, so a
// block is BLOCK_CHARS characters standing for vLLM's 16-token block (llm-d's approximate scorer does the same with
// averageCharactersPerToken = 4: kubernetes-sigs/gateway-api-inference-extension, pkg/epp/scheduling/framework/
// plugins/multi/prefix/plugin.go). Each block's hash covers the one before it (as vLLM's hash_block_tokens in
// vllm/v1/core/kv_cache_utils.py), so equal hashes mean an equal prefix, and a partial last block is not hashed
// (vLLM caches full blocks only). 32-bit FNV-1a over UTF-16 code units, finished with murmur3's fmix32: one
// multiply per character, and at most MAX_BLOCKS blocks, so the cost is O(min(prompt, MAX_BLOCKS × BLOCK_CHARS)).

/** vLLM's --block-size on CUDA. */
export const BLOCK_TOKENS = 16;
/** Characters per token: Llama 3's tokenizer gives 3.6–4.3 on English prose and code (README "Routing"). */
export const CHARS_PER_TOKEN = 4;
export const BLOCK_CHARS = BLOCK_TOKENS * CHARS_PER_TOKEN;
/** Blocks hashed at most (4,096 tokens): the rest of a longer prompt does not tell replicas apart (llm-d's 256). */
export const MAX_BLOCKS = 256;

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

function fmix32(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) | 0;
}

/** Feeds text (and token ids) in prompt order; `blocks()` is the chain of the full blocks seen. */
export class BlockHasher {
  private readonly out = new Int32Array(MAX_BLOCKS);
  private count = 0;
  private fill = 0;
  private hash: number;

  /** `salt` (vLLM's cache_salt) goes into the first block: prompts with different salts share nothing. */
  constructor(salt = "") {
    let h = FNV_OFFSET;
    for (let i = 0; i < salt.length; i++) h = Math.imul(h ^ salt.charCodeAt(i), FNV_PRIME);
    this.hash = h;
  }

  /** Whether MAX_BLOCKS are hashed already (the rest of the prompt is ignored). */
  get full(): boolean {
    return this.count === MAX_BLOCKS;
  }

  text(s: string): void {
    let h = this.hash;
    let fill = this.fill;
    for (let i = 0; i < s.length; i++) {
      h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
      if (++fill < BLOCK_CHARS) continue;
      h = this.close(h);
      fill = 0;
      if (this.count === MAX_BLOCKS) break;
    }
    this.hash = h;
    this.fill = fill;
  }

  /** Token ids (a completions prompt): each counts as CHARS_PER_TOKEN characters, so 16 ids make a block. */
  tokens(ids: readonly number[]): void {
    let h = this.hash;
    for (let i = 0; i < ids.length && this.count < MAX_BLOCKS; i++) {
      h = Math.imul(h ^ (ids[i] as number), FNV_PRIME);
      this.fill += CHARS_PER_TOKEN;
      if (this.fill < BLOCK_CHARS) continue;
      h = this.close(h);
      this.fill = 0;
    }
    this.hash = h;
  }

  /** The full blocks' hashes, in order. */
  blocks(): Int32Array {
    return this.out.slice(0, this.count);
  }

  /** Ends a block: its hash is stored and seeds the next one (the chain). */
  private close(h: number): number {
    const block = fmix32(h);
    this.out[this.count++] = block;
    return Math.imul(block ^ FNV_OFFSET, FNV_PRIME);
  }
}
