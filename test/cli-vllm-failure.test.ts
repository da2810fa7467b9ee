// What an operator sees when vLLM fails the way users report it (vLLM V1's "KV cache too small"):
// `start` prints the cause and vLLM's own number as the fix, `status` shows the same, `check` names the vLLM version.
// A fake `vllm` (and `nvidia-smi`) on PATH stands in for the engine; DRIVER=process runs the real runtime.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { TESTED_VLLM_VERSION } from "../src/engine/vllm-version.js";
import { assertBuilt, cliEnv, freePort, runCli, spawnCli, tempHome, waitFor } from "./helpers/cli.js";

beforeAll(() => assertBuilt());

const CASE_1 = [
  "(EngineCore_DP0 pid=494) ERROR 11-29 23:40:20 [core.py:708] EngineCore failed to start.",
  "(EngineCore_DP0 pid=494) ValueError: To serve at least one request with the models's max seq len (262144), (36.0 GiB KV cache is needed, which is larger than the available KV cache memory (6.94 GiB). Based on the available memory, the estimated maximum model length is 50512. Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
  "(APIServer pid=431) RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}",
];
const FIX = "set MAX_MODEL_LEN to 50512 or less, or raise GPU_MEMORY_UTILIZATION / TENSOR_PARALLEL_SIZE";

function fakeEngine(dir: string): string {
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const vllm = [
    "#!/usr/bin/env python3",
    "import sys",
    'if sys.argv[1:2] == ["--version"]:',
    '    print("0.29.0"); sys.exit(0)',
    `for line in ${JSON.stringify(CASE_1)}:`,
    "    print(line, file=sys.stderr, flush=True)",
    "sys.exit(1)",
  ].join("\n");
  writeFileSync(join(bin, "vllm"), `${vllm}\n`);
  writeFileSync(join(bin, "nvidia-smi"), '#!/bin/sh\necho "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0)"\n');
  for (const f of ["vllm", "nvidia-smi"]) chmodSync(join(bin, f), 0o755);
  return bin;
}

describe("a vLLM start failure, as the operator sees it", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it("start and status show vLLM's own fix; check warns about the untested vLLM", async () => {
    const { home, cleanup } = tempHome();
    cleanups.push(cleanup);
    const bin = fakeEngine(home);
    const env = cliEnv(home, {
      PATH: `${bin}:${process.env.PATH}`,
      LLM_RUNNER_FAKE_GPUS: "test/fixtures/gpu/h100-query-gpu.csv",
      ENGINE: "vllm",
      DRIVER: "process",
      // A local model folder: a hub id would make `start` pull it first, and there is no hub here.
      MODEL_ID: resolve("test/fixtures/models/Meta-Llama-3.1-8B-Instruct"),
      HOST: "127.0.0.1",
      PORT: String(await freePort()),
      ENGINE_PORT: "0",
    });
    const runner = spawnCli(["start"], env);
    cleanups.push(() => runner.kill("SIGKILL"));
    await waitFor(() => runner.output().includes("engine failed"), 60_000, "the engine failure");
    await waitFor(() => runner.output().includes("fix:"), 10_000, "the fix line");
    expect(runner.output()).toContain(
      "engine failed (kv_cache_oom): ValueError: To serve at least one request",
    );
    expect(runner.output()).toContain(FIX);

    const status = await runCli(["status"], env);
    expect(status.stdout).toMatch(/state\s+failed/);
    expect(status.stdout).toMatch(/last error\s+kv_cache_oom: ValueError: To serve/);
    expect(status.stdout).toContain(FIX);

    const check = await runCli(["check"], env);
    expect(check.stdout).toContain(
      `! vLLM 0.29.0 in the vllm on PATH; llm-runner is tested with vLLM ${TESTED_VLLM_VERSION}`,
    );
    expect(check.stdout).toContain(`fix: pip install vllm==${TESTED_VLLM_VERSION}`);

    const exited = new Promise((r) => runner.once("exit", r));
    runner.kill("SIGTERM");
    await exited;
  }, 120_000);
});
