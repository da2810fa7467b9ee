// How well BLOCK_CHARS (16 tokens × 4 characters) tracks the engine's 16-token blocks, on real tokenizer output:
// Meta Llama 3's token counts of six excerpts of this repository (test/fixtures/tokenizer/README.md).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BLOCK_CHARS, BLOCK_TOKENS, CHARS_PER_TOKEN } from "./prefix-blocks.js";

interface Sample {
  kind: string;
  source: string;
  text: string;
  tokens: number;
}
const { samples } = JSON.parse(
  readFileSync(new URL("../../../test/fixtures/tokenizer/llama3-samples.json", import.meta.url), "utf8"),
) as { samples: Sample[] };

/** Tokens in one gateway block against the engine's 16, minus one: +0.1 means a block spans 17.6 tokens. */
const error = (s: Sample) => (BLOCK_CHARS * s.tokens) / s.text.length / BLOCK_TOKENS - 1;

describe("characters per block against Llama 3's tokenizer", () => {
  it("a block is 16 tokens of 4 characters", () => {
    expect(BLOCK_CHARS).toBe(BLOCK_TOKENS * CHARS_PER_TOKEN);
  });

  it("prose, code and JSON: within 10 % of 16 tokens (3.66 to 4.23 characters a token)", () => {
    const dense = samples.filter((s) => !s.kind.startsWith("YAML"));
    expect(dense.length).toBe(5);
    for (const s of dense) expect(Math.abs(error(s)), `${s.source}: ${error(s)}`).toBeLessThan(0.1);
  });

  it("indented YAML runs long (5.15 characters a token): a block there is 12.4 tokens", () => {
    const yaml = samples.find((s) => s.kind.startsWith("YAML")) as Sample;
    expect(error(yaml)).toBeCloseTo(-0.22, 2);
  });
});
