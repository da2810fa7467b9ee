import path from "node:path";
import { describe, expect, it } from "vitest";
import type { GpuInfo } from "../gpu/types.js";
import { checkGpus, type GpuCheckInput } from "./gpu-checks.js";
import { readModelFacts } from "./model-info.js";

const MODELS = path.resolve(import.meta.dirname, "../../test/fixtures/models");
const llama8b = readModelFacts(path.join(MODELS, "Meta-Llama-3.1-8B-Instruct/config.json"));
const llama70b = readModelFacts(path.join(MODELS, "Meta-Llama-3.1-70B-Instruct/config.json"));

function gpu(index: number, totalMiB = 81559, freeMiB = totalMiB - 480): GpuInfo {
  return {
    index,
    uuid: `GPU-${index}`,
    name: "NVIDIA H100 80GB HBM3",
    memoryTotalMiB: totalMiB,
    memoryUsedMiB: totalMiB - freeMiB,
    memoryFreeMiB: freeMiB,
    utilizationGpu: 0,
    utilizationMemory: 0,
    temperatureC: 40,
    powerW: 100,
    driverVersion: "580.159.04",
    computeCap: { major: 9, minor: 0 },
  };
}

const base: GpuCheckInput = {
  gpus: [gpu(0)],
  gpuIds: "all",
  tensorParallelSize: 1,
  pipelineParallelSize: 1,
  use8bit: false,
  gpuMemoryUtilization: 0.97,
  maxModelLen: 8192,
  facts: llama8b,
};

describe("checkGpus", () => {
  it("passes Llama 3.1 8B on one H100 with nothing to say", () => {
    expect(checkGpus(base)).toMatchObject({ issues: [], warnings: [], kvCache: { verdict: "fits" } });
  });

  it("counts only the GPUs in GPU_IDS", () => {
    const r = checkGpus({
      ...base,
      gpus: [gpu(0), gpu(1), gpu(2), gpu(3)],
      gpuIds: [1, 2],
      tensorParallelSize: 4,
    });
    expect(r.issues[0]?.message).toContain("= 4 GPUs, but the engine gets 2 (GPU_IDS=1,2)");
  });

  it("blames PIPELINE_PARALLEL_SIZE when only pipeline stages overflow", () => {
    const r = checkGpus({ ...base, pipelineParallelSize: 2 });
    expect(r.issues[0]?.variable).toBe("PIPELINE_PARALLEL_SIZE");
  });

  it("warns when GPU_IDS gives GPUs that TP x PP leaves idle", () => {
    const r = checkGpus({ ...base, gpus: [gpu(0), gpu(1)], gpuIds: [0, 1] });
    expect(r.issues).toEqual([]);
    expect(r.warnings).toEqual([expect.stringContaining("vLLM uses only the first 1, the rest sit idle")]);
  });

  it("suggests only the fixes that would work", () => {
    // A 24 GiB card: 8B bf16 (~15 GiB) does not fit at 0.5, fits at a higher utilisation or in 8-bit.
    const r = checkGpus({ ...base, gpus: [gpu(0, 24576)], gpuMemoryUtilization: 0.5 });
    expect(r.issues).toHaveLength(1);
    const msg = r.issues[0]?.message ?? "";
    expect(msg).toContain("gives the engine 12.0 GiB at GPU_MEMORY_UTILIZATION=0.5");
    expect(msg).toContain("TENSOR_PARALLEL_SIZE=2");
    expect(msg).toContain("USE_8BIT=true");
    expect(msg).toMatch(/GPU_MEMORY_UTILIZATION=0\.\d+ or higher/);
  });

  it("says when no setting makes the model fit", () => {
    const r = checkGpus({ ...base, gpus: [gpu(0, 8192)], facts: llama70b, use8bit: true });
    expect(r.issues[0]?.message).toContain("weights alone need");
    expect(r.issues[0]?.message).not.toContain("USE_8BIT=true");
  });

  it("judges memory by the smallest GPU the engine uses", () => {
    const r = checkGpus({ ...base, gpus: [gpu(0), gpu(1, 16384)], tensorParallelSize: 2, facts: llama70b });
    expect(r.issues[0]?.message).toContain("GPU 1 (NVIDIA H100 80GB HBM3, 16.0 GiB)");
  });

  it("estimates the KV cache of a model that fits, with the concurrency at full length", () => {
    const r = checkGpus({ ...base, maxNumSeqs: 128, maxNumBatchedTokens: 8192 });
    expect(r.issues).toEqual([]);
    expect(r.kvCache?.verdict).toBe("fits");
    // 8B on an H100 at 0.97: ~60 GiB of KV cache at 128 KiB a token (vLLM's own logs show ~470k-480k).
    expect(r.kvCache?.tokens).toBeGreaterThan(400_000);
    expect(r.kvCache?.tokens).toBeLessThan(560_000);
    expect(r.kvCache?.concurrency).toBeCloseTo((r.kvCache?.tokens ?? 0) / 8192, 5);
  });

  it("is an error, with the fixes, when MAX_MODEL_LEN is beyond the KV cache and its error band", () => {
    // 70B in 8-bit on one H100: the weights fit, ~18k tokens of KV cache are left.
    const r = checkGpus({ ...base, facts: llama70b, use8bit: true, maxModelLen: 131072 });
    expect(r.warnings).toEqual([]);
    expect(r.issues).toHaveLength(1);
    expect(r.issues[0]?.variable).toBe("MAX_MODEL_LEN");
    expect(r.issues[0]?.message).toMatch(
      /^131072 tokens do not fit the KV cache: .*room for ≈ [\d,]+ tokens \(±15 %\).*Fix: MAX_MODEL_LEN=\d+ or lower; or TENSOR_PARALLEL_SIZE=2 \(needs 2 GPUs; the engine has 1 GPU now\)\.$/,
    );
    expect(r.kvCache?.verdict).toBe("short");
  });

  it("catches the issue's 70B on 2 x H100 at MAX_MODEL_LEN=131072 and offers TP, 8-bit and a shorter length", () => {
    const r = checkGpus({
      ...base,
      gpus: [gpu(0), gpu(1)],
      tensorParallelSize: 2,
      facts: llama70b,
      maxModelLen: 131072,
      maxNumBatchedTokens: 8192,
    });
    expect(r.issues).toHaveLength(1);
    const message = r.issues[0]?.message ?? "";
    const suggested = Number(/MAX_MODEL_LEN=(\d+) or lower/.exec(message)?.[1]);
    expect(suggested).toBeGreaterThan(32_768);
    expect(suggested).toBeLessThan(131_072);
    expect(message).toContain("TENSOR_PARALLEL_SIZE=4 (needs 4 GPUs; the engine has 2 GPUs now)");
    // A suggested length clears the check.
    const fixed = checkGpus({
      ...base,
      gpus: [gpu(0), gpu(1)],
      tensorParallelSize: 2,
      facts: llama70b,
      maxModelLen: suggested,
    });
    expect(fixed.issues).toEqual([]);
    expect(fixed.warnings).toEqual([]);
    expect(fixed.kvCache?.verdict).toBe("fits");
  });

  it("only warns inside the error band", () => {
    const probe = checkGpus({ ...base, facts: llama70b, use8bit: true, maxModelLen: 1024 });
    const tokens = probe.kvCache?.tokens ?? 0;
    const r = checkGpus({ ...base, facts: llama70b, use8bit: true, maxModelLen: tokens });
    expect(r.issues).toEqual([]);
    expect(r.warnings).toEqual([
      expect.stringMatching(/^MAX_MODEL_LEN=\d+ is within the estimate's ±15 % of the KV cache room/),
    ]);
    expect(r.kvCache?.verdict).toBe("tight");
  });

  it("offers GPU_MEMORY_UTILIZATION when a little more memory is enough", () => {
    const probe = checkGpus({ ...base, gpuMemoryUtilization: 0.5, maxModelLen: 1024 });
    const tokens = probe.kvCache?.tokens ?? 0;
    const r = checkGpus({ ...base, gpuMemoryUtilization: 0.5, maxModelLen: Math.round(tokens * 1.3) });
    const util = Number(/or GPU_MEMORY_UTILIZATION=(0\.\d+);/.exec(r.issues[0]?.message ?? "")?.[1]);
    expect(util).toBeGreaterThan(0.5);
    const fixed = checkGpus({ ...base, gpuMemoryUtilization: util, maxModelLen: Math.round(tokens * 1.3) });
    expect(fixed.kvCache?.verdict).toBe("fits");
  });

  it("warns when another process holds the memory vLLM will ask for", () => {
    const r = checkGpus({ ...base, gpus: [gpu(0, 81559, 40000)] });
    expect(r.warnings).toEqual([expect.stringContaining("GPU 0 has 39.1 GiB free of 79.6 GiB")]);
    expect(r.warnings[0]).toContain("GPU_MEMORY_UTILIZATION=0.49 or lower");
  });

  it("checks counts but not memory when the model's config.json is unknown", () => {
    expect(checkGpus({ ...base, facts: null, tensorParallelSize: 2 }).issues).toHaveLength(1);
    expect(checkGpus({ ...base, facts: null, gpus: [gpu(0, 1024)] }).issues).toEqual([]);
  });
});
