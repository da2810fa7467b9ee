import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { createNvidiaSmiProbe, type ExecFn, GpuProbeError, nvidiaSmiArgs } from "./nvidia-smi.js";
import { gpuProbeFor } from "./probe-from-env.js";
import { staticGpuProbe } from "./static-probe.js";

const FIXTURE = path.resolve(import.meta.dirname, "../../test/fixtures/gpu/h100-query-gpu.csv");

/** A stand-in nvidia-smi: a real executable, so the real execFile path (argv, timeout) is exercised. */
function fakeNvidiaSmi(script: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "llm-runner-smi-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, "nvidia-smi");
  writeFileSync(bin, `#!/bin/sh\n${script}\n`);
  chmodSync(bin, 0o755);
  return bin;
}

describe("createNvidiaSmiProbe", () => {
  it("asks for our columns in CSV without header or units", () => {
    expect(nvidiaSmiArgs()).toEqual([
      "--query-gpu=index,uuid,name,memory.total,memory.used,memory.free,utilization.gpu,utilization.memory,temperature.gpu,power.draw,driver_version,compute_cap",
      "--format=csv,noheader,nounits",
    ]);
  });

  it("runs the binary with those arguments and parses what it prints", async () => {
    const bin = fakeNvidiaSmi(
      `[ "$1" = "${nvidiaSmiArgs()[0]}" ] && [ "$2" = "--format=csv,noheader,nounits" ] || exit 7\ncat '${FIXTURE}'`,
    );
    const gpus = await createNvidiaSmiProbe({ bin }).list();
    expect(gpus.map((g) => [g.index, g.name, g.memoryTotalMiB])).toEqual([
      [0, "NVIDIA H100 80GB HBM3", 81559],
    ]);
  });

  it("lists no GPUs when nvidia-smi is not installed", async () => {
    expect(await createNvidiaSmiProbe({ bin: "/nonexistent/nvidia-smi" }).list()).toEqual([]);
  });

  it("rejects with nvidia-smi's own words when it fails", async () => {
    const bin = fakeNvidiaSmi(
      'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver."; exit 9',
    );
    const err = await createNvidiaSmiProbe({ bin })
      .list()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GpuProbeError);
    expect((err as Error).message).toContain("failed (exit 9): NVIDIA-SMI has failed");
  });

  it("gives up after the timeout", async () => {
    const bin = fakeNvidiaSmi("exec sleep 30");
    const started = Date.now();
    await expect(createNvidiaSmiProbe({ bin, timeoutMs: 300 }).list()).rejects.toThrow(
      /did not answer within 300 ms/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("rejects output it cannot read", async () => {
    const exec: ExecFn = async () => ({ stdout: "garbage\n", stderr: "" });
    await expect(createNvidiaSmiProbe({ exec }).list()).rejects.toThrow(
      /output we cannot read: line 1 has 1 columns/,
    );
  });
});

describe("gpuProbeFor", () => {
  it("reads LLM_RUNNER_FAKE_GPUS instead of running nvidia-smi", async () => {
    const gpus = await gpuProbeFor(FIXTURE).list();
    expect(gpus.map((g) => g.uuid)).toEqual(["GPU-f9bb3aac-f5c0-319c-d84c-9f24c1c67aee"]);
  });

  it("names the variable when the file is missing", async () => {
    await expect(gpuProbeFor("/nope.csv").list()).rejects.toThrow(/LLM_RUNNER_FAKE_GPUS=\/nope.csv: ENOENT/);
  });
});

describe("staticGpuProbe", () => {
  it("hands out copies, so callers cannot change its list", async () => {
    const probe = staticGpuProbe(await gpuProbeFor(FIXTURE).list());
    const first = await probe.list();
    (first[0] as { memoryFreeMiB: number }).memoryFreeMiB = 0;
    expect((await probe.list())[0]?.memoryFreeMiB).toBe(81079);
  });
});
