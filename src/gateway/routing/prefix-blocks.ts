// The prompt as a chain of block hashes, for ROUTER=prefix. The gateway sees text, not the engine's tokens, so a
// block is BLOCK_CHARS characters standing for vLLM's 16-token block (llm-d's approximate scorer does the same with
// averageCharactersPerToken = 4: kubernetes-sigs/gateway-api-inference-extension, pkg/epp/scheduling/framework/
// plugins/multi/prefix/plugin.go). Each block's hash covers the one before it (as vLLM's hash_block_tokens in
// vllm/v1/core/kv_cache_utils.py), so equal hashes mean an equal prefix, and a partial last block is not hashed
// (vLLM caches full blocks only). The text is copied as UTF-16 into a buffer (native, fast) and hashed 32 bits at
// a time: FNV-1a's multiply per two characters, each block finished with murmur3's fmix32. At most MAX_BLOCKS
// blocks, so the cost is O(min(prompt, MAX_BLOCKS × BLOCK_CHARS)): ≈ 11 µs for 4,096 tokens (bench/prefix.mjs).

/** vLLM's --block-size on CUDA. */
export const BLOCK_TOKENS = 16;
/** Characters per token: Llama 3's tokenizer gives 3.7–4.2 on prose, code and JSON (README "Routing"). */
export const CHARS_PER_TOKEN = 4;
export const BLOCK_CHARS = BLOCK_TOKENS * CHARS_PER_TOKEN;
/** Blocks hashed at most (4,096 tokens): the rest of a longer prompt does not tell replicas apart (llm-d's 256). */
export const MAX_BLOCKS = 256;

const BLOCK_BYTES = BLOCK_CHARS * 2; // UTF-16
const MAX_BYTES = MAX_BLOCKS * BLOCK_BYTES;
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

function fmix32(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) | 0;
}

// One buffer reused by the hashers, which run synchronously from construction to blocks().
let spare: Buffer | null = null;

/** Feeds text (and token ids) in prompt order; `blocks()` hashes the full blocks seen and ends the hasher. */
export class BlockHasher {
  private readonly buf: Buffer;
  private bytes = 0;
  private readonly seed: number;

  /** `salt` (vLLM's cache_salt) goes into the first block: prompts with different salts share nothing. */
  constructor(salt = "") {
    this.buf = spare ?? Buffer.allocUnsafeSlow(MAX_BYTES);
    spare = null;
    let h = FNV_OFFSET;
    for (let i = 0; i < salt.length; i++) h = Math.imul(h ^ salt.charCodeAt(i), FNV_PRIME);
    this.seed = h;
  }

  /** Whether MAX_BLOCKS are filled already (the rest of the prompt is ignored). */
  get full(): boolean {
    return this.bytes === MAX_BYTES;
  }

  text(s: string): void {
    if (this.bytes < MAX_BYTES) this.bytes += this.buf.write(s, this.bytes, "utf16le");
  }

  /** Token ids (a completions prompt): each takes the room of CHARS_PER_TOKEN characters, so 16 make a block. */
  tokens(ids: readonly number[]): void {
    for (let i = 0; i < ids.length && this.bytes < MAX_BYTES; i++) {
      this.buf.writeInt32LE((ids[i] as number) | 0, this.bytes);
      this.buf.writeInt32LE(0, this.bytes + 4);
      this.bytes += CHARS_PER_TOKEN * 2;
    }
  }

  /** The full blocks' hashes, in order. */
  blocks(): Int32Array {
    const count = Math.floor(this.bytes / BLOCK_BYTES);
    const words = new Int32Array(this.buf.buffer, this.buf.byteOffset, (count * BLOCK_BYTES) / 4);
    const out = new Int32Array(count);
    let h = this.seed;
    let at = 0;
    for (let b = 0; b < count; b++) {
      const end = at + BLOCK_BYTES / 4;
      for (; at < end; at++) h = Math.imul(h ^ (words[at] as number), FNV_PRIME);
      const block = fmix32(h);
      out[b] = block;
      h = Math.imul(block ^ FNV_OFFSET, FNV_PRIME); // the next block starts from this one: a chain
    }
    spare = this.buf;
    return out;
  }
}
