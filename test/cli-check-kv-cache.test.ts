// `check` on the model fixtures with the H100 fixture: the KV-cache line, and the 70B-class MAX_MODEL_LEN that
// vLLM would refuse after a long load, caught before any load.
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, cliEnv, freePort, runCli, tempHome } from "./helpers/cli.js";

beforeAll(() => assertBuilt());

const MODELS = path.resolve(import.meta.dirname, "fixtures/models");
const H100 = path.resolve(import.meta.dirname, "fixtures/gpu/h100-query-gpu.csv");

async function check(args: string[]) {
  const { home, cleanup } = tempHome();
  try {
    const env = cliEnv(home, { LLM_RUNNER_FAKE_GPUS: H100, PYTHON: "/nonexistent/python3" });
    return await runCli(
      ["check", "--engine", "vllm", "--driver", "process", "--port", String(await freePort()), ...args],
      env,
    );
  } finally {
    cleanup();
  }
}

describe("llm-runner check: KV cache", () => {
  it("shows the KV cache and the concurrency at full length for 8B on one H100", async () => {
    const res = await check(["--model-id", path.join(MODELS, "Meta-Llama-3.1-8B-Instruct")]);
    expect(res.stdout).toMatch(
      /✔ KV cache ≈ [\d,]+ tokens \(±15 % estimate\), max concurrency at full length \(MAX_MODEL_LEN=8192\) ≈ \d+× \(MAX_NUM_SEQS=128/,
    );
  });

  it("catches MAX_MODEL_LEN=131072 for 70B-class weights on one H100 (exit 2)", async () => {
    const model = path.join(MODELS, "Meta-Llama-3.1-70B-Instruct");
    const res = await check(["--model-id", model, "--use-8bit", "--max-model-len", "131072"]);
    expect(res.code).toBe(2);
    expect(res.stdout).toMatch(
      /✘ --max-model-len=131072: 131072 tokens do not fit the KV cache: .*room for ≈ [\d,]+ tokens \(±15 %\).*Fix: MAX_MODEL_LEN=\d+ or lower/,
    );
    // In 16 bits the weights alone are the problem, and the message says so.
    const full = await check(["--model-id", model, "--max-model-len", "131072"]);
    expect(full.code).toBe(2);
    expect(full.stdout).toContain("the weights alone need ~131.4 GiB per GPU");
  });
});
