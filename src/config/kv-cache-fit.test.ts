import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  estimateKvFit,
  judgeKvFit,
  KV_ESTIMATE_ERROR,
  kvBytesPerToken,
  safeMaxModelLen,
} from "./kv-cache-fit.js";
import { readModelFacts } from "./model-info.js";
import { GIB } from "./model-size.js";

const FIXTURES = path.resolve(import.meta.dirname, "../../test/fixtures");
const facts = (name: string) => readModelFacts(path.join(FIXTURES, "models", name, "config.json"));
const MIB = 1024 ** 2;

interface CalibrationRow {
  id: string;
  source: string;
  model: string;
  gpu: string;
  gpuMemoryTotalMiB: number;
  gpuMemoryUtilization: number;
  tensorParallelSize: number;
  pipelineParallelSize: number;
  maxModelLen: number;
  maxNumBatchedTokens: number;
  observedTokens: number;
  observedWeightsGiB: number;
}

const calibration = JSON.parse(readFileSync(path.join(FIXTURES, "vllm/kv-calibration.json"), "utf8")) as {
  rows: CalibrationRow[];
};

function estimateRow(row: CalibrationRow) {
  const fit = estimateKvFit({
    facts: facts(row.model),
    gpuTotalBytes: row.gpuMemoryTotalMiB * MIB,
    gpuMemoryUtilization: row.gpuMemoryUtilization,
    tensorParallelSize: row.tensorParallelSize,
    pipelineParallelSize: row.pipelineParallelSize,
    use8bit: false,
    maxNumBatchedTokens: row.maxNumBatchedTokens,
  });
  if (!fit) throw new Error(`no estimate for ${row.id}`);
  return fit;
}

describe("KV cache estimate against published vLLM start-ups", () => {
  it("has at least three model/GPU pairs", () => {
    const pairs = new Set(calibration.rows.map((r) => `${r.model}|${r.gpu}`));
    expect(pairs.size).toBeGreaterThanOrEqual(3);
  });

  it.each(calibration.rows.map((r) => [r.id, r] as const))("%s: within the stated error band", (_id, row) => {
    const fit = estimateRow(row);
    const error = fit.tokens / row.observedTokens - 1;
    // The table in the report comes from this line (npx vitest run --config vitest.unit.ts src/config/kv-cache-fit.test.ts).
    console.log(
      `${row.id}: estimate ${fit.tokens} tokens, vLLM ${row.observedTokens} (${(error * 100).toFixed(1)} %); weights ~${(fit.weightsBytes / GIB).toFixed(2)} GiB vs ${row.observedWeightsGiB} GiB`,
    );
    expect(Math.abs(error)).toBeLessThanOrEqual(KV_ESTIMATE_ERROR);
  });
});

describe("kvBytesPerToken", () => {
  const llama8b = facts("Meta-Llama-3.1-8B-Instruct");
  const llama70b = facts("Meta-Llama-3.1-70B-Instruct");

  it("is 2 x layers x KV heads x head dim x 2 bytes for a bf16 model", () => {
    expect(kvBytesPerToken(llama8b, 1, 1)).toBe(2 * 32 * 8 * 128 * 2); // 128 KiB
    expect(kvBytesPerToken(llama70b, 1, 1)).toBe(2 * 80 * 8 * 128 * 2); // 320 KiB
  });

  it("splits KV heads over TP and layers over PP, keeping at least one KV head per GPU", () => {
    expect(kvBytesPerToken(llama70b, 2, 1)).toBe(2 * 80 * 4 * 128 * 2);
    expect(kvBytesPerToken(llama70b, 1, 2)).toBe(2 * 40 * 8 * 128 * 2);
    expect(kvBytesPerToken(llama70b, 16, 1)).toBe(2 * 80 * 1 * 128 * 2);
  });

  it("halves with an fp8 KV cache", () => {
    expect(kvBytesPerToken(llama8b, 1, 1, "fp8")).toBe(2 * 32 * 8 * 128);
    expect(kvBytesPerToken(llama8b, 1, 1, "fp8_e5m2")).toBe(2 * 32 * 8 * 128);
  });
});

describe("judgeKvFit", () => {
  it("says short beyond the band, tight inside it, fits below it", () => {
    expect(judgeKvFit(100_000, 116_000)).toBe("short");
    expect(judgeKvFit(100_000, 114_000)).toBe("tight");
    expect(judgeKvFit(100_000, 86_000)).toBe("tight");
    expect(judgeKvFit(100_000, 84_000)).toBe("fits");
  });

  it("suggests a MAX_MODEL_LEN below the band, in whole KiB of tokens", () => {
    expect(safeMaxModelLen(62_585)).toBe(52_224);
    expect(judgeKvFit(62_585, safeMaxModelLen(62_585))).toBe("fits");
  });
});
