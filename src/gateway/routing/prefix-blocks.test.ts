import { describe, expect, it } from "vitest";
import { BLOCK_CHARS, BlockHasher, MAX_BLOCKS } from "./prefix-blocks.js";

const blocksOf = (text: string, salt = "") => {
  const h = new BlockHasher(salt);
  h.text(text);
  return [...h.blocks()];
};
const letters = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => String.fromCharCode(97 + ((i + from) % 26))).join("");

describe("BlockHasher: 64-character blocks standing for vLLM's 16 tokens", () => {
  it("hashes full blocks only: a partial last block is not in the chain (vLLM caches full blocks)", () => {
    expect(BLOCK_CHARS).toBe(64);
    expect(blocksOf(letters(63))).toHaveLength(0);
    expect(blocksOf(letters(64))).toHaveLength(1);
    expect(blocksOf(letters(127))).toHaveLength(1);
    expect(blocksOf(letters(128))).toHaveLength(2);
  });

  it("two prompts share exactly the blocks of their common prefix", () => {
    const shared = letters(130);
    const a = blocksOf(`${shared}${"x".repeat(100)}`);
    const b = blocksOf(`${shared}${"y".repeat(100)}`);
    // 130 shared characters: blocks 0 and 1 (0–127) equal, block 2 (128–191) holds the divergence.
    expect(a.slice(0, 2)).toEqual(b.slice(0, 2));
    expect(a[2]).not.toBe(b[2]);
  });

  it("chains: the same 64 characters after a different prefix hash differently", () => {
    const block = letters(64);
    const a = blocksOf(`${letters(64, 1)}${block}`);
    const b = blocksOf(`${letters(64, 2)}${block}`);
    expect(a[1]).not.toBe(b[1]);
    expect(blocksOf(block)[0]).not.toBe(a[1]);
  });

  it("text fed in pieces hashes as the whole", () => {
    const text = letters(300);
    const h = new BlockHasher();
    h.text(text.slice(0, 7));
    h.text(text.slice(7, 200));
    h.text(text.slice(200));
    expect([...h.blocks()]).toEqual(blocksOf(text));
  });

  it("a different cache_salt shares no block (vLLM mixes the salt into the first block)", () => {
    const text = letters(256);
    expect(blocksOf(text, "tenant-a")[0]).not.toBe(blocksOf(text, "tenant-b")[0]);
    expect(blocksOf(text, "tenant-a")).toEqual(blocksOf(text, "tenant-a"));
  });

  it("stops at MAX_BLOCKS: the cost is bounded whatever the prompt's length", () => {
    expect(MAX_BLOCKS).toBe(256);
    expect(blocksOf(letters(BLOCK_CHARS * 300))).toHaveLength(MAX_BLOCKS);
  });

  it("token ids: 16 to a block, chained the same way", () => {
    const ids = Array.from({ length: 40 }, (_, i) => 1000 + i);
    const h = new BlockHasher();
    h.tokens(ids);
    const other = new BlockHasher();
    other.tokens([...ids.slice(0, 20), 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]);
    const a = [...h.blocks()];
    const b = [...other.blocks()];
    expect(a).toHaveLength(2);
    expect(b).toHaveLength(2);
    expect(a[0]).toBe(b[0]);
    expect(a[1]).not.toBe(b[1]);
  });
});
