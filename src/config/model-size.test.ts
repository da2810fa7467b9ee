import path from "node:path";
import { describe, expect, it } from "vitest";
import { readModelFacts } from "./model-info.js";
import { estimateParams, estimateWeights, GIB } from "./model-size.js";

const MODELS = path.resolve(import.meta.dirname, "../../test/fixtures/models");
const llama8b = readModelFacts(path.join(MODELS, "Meta-Llama-3.1-8B-Instruct/config.json"));
const llama70b = readModelFacts(path.join(MODELS, "Meta-Llama-3.1-70B-Instruct/config.json"));

describe("estimateParams", () => {
  // Published parameter counts: 8,030,261,248 and 70,553,706,496.
  it.each([
    ["Llama 3.1 8B", llama8b, 8.03e9],
    ["Llama 3.1 70B", llama70b, 70.6e9],
  ])("lands within 3 %% of %s's parameter count", (_name, facts, published) => {
    const p = estimateParams(facts);
    expect(Math.abs((p?.total ?? 0) / published - 1)).toBeLessThan(0.03);
  });

  it("counts a tied lm_head once", () => {
    const untied = estimateParams(llama8b)?.total ?? 0;
    const tied = estimateParams({ ...llama8b, tieWordEmbeddings: true })?.total ?? 0;
    expect(untied - tied).toBe(128256 * 4096);
  });

  it("returns null when config.json lacks the sizes", () => {
    expect(estimateParams({ ...llama8b, hiddenSize: null })).toBeNull();
  });
});

describe("estimateWeights", () => {
  it("puts Llama 3.1 8B at ~15 GiB and 70B at ~131 GiB in bfloat16", () => {
    expect((estimateWeights(llama8b, false)?.bytes ?? 0) / GIB).toBeCloseTo(15, 0);
    expect((estimateWeights(llama70b, false)?.bytes ?? 0) / GIB).toBeGreaterThan(127);
    expect((estimateWeights(llama70b, false)?.bytes ?? 0) / GIB).toBeLessThan(135);
  });

  it("roughly halves the size with 8-bit, keeping embeddings at full width", () => {
    const full = estimateWeights(llama8b, false)?.bytes ?? 0;
    const int8 = estimateWeights(llama8b, true)?.bytes ?? 0;
    expect(int8 / full).toBeGreaterThan(0.5);
    expect(int8 / full).toBeLessThan(0.65);
  });

  it("uses the pre-quantised width of a 4-bit checkpoint", () => {
    const awq = estimateWeights({ ...llama8b, quantBits: 4 }, false)?.bytes ?? 0;
    expect(awq / GIB).toBeLessThan(6);
  });
});
