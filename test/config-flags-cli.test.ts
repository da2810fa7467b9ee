// `llm-runner flags` as an operator runs it: the built binary, a real environment, real exit codes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { assertBuilt, REPO, runCli } from "./helpers/cli.js";

// No nvidia-smi on this PATH (only node's folder), so the real GPU probe finds none.
const baseEnv = { PATH: "/usr/bin:/bin", HOME: "/nonexistent-home" };

describe("llm-runner flags (built CLI)", () => {
  beforeAll(() => assertBuilt());

  it("prints a command a shell can run, and warns that GPU checks were skipped", async () => {
    const r = await runCli(["flags"], baseEnv);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^VLLM_API_KEY='\*\*\*' CUDA_DEVICE_ORDER=PCI_BUS_ID vllm serve meta-llama\/Meta-Llama-3\.1-8B-Instruct .*--tensor-parallel-size 1 /,
    );
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^! no NVIDIA GPU found/m);
  });

  it("prints its warnings exactly as check prints them", async () => {
    const home = mkdtempSync(join(tmpdir(), "flags-check-"));
    onTestFinished(() => rmSync(home, { recursive: true, force: true }));
    const env = { ...baseEnv, MAX_MODEL_LEN: "16384", DRIVER: "process", LLM_RUNNER_HOME: home };
    const flags = await runCli(["flags"], env);
    const check = await runCli(["check"], env);
    const warnings = flags.stderr.split("\n").filter((l) => l !== "");
    expect(warnings.length).toBeGreaterThanOrEqual(2);
    for (const line of warnings) expect(check.stdout.split("\n")).toContain(line);
  });

  it("explains why TENSOR_PARALLEL_SIZE=3 is wrong for a 32-head model, exit 2", async () => {
    const r = await runCli(["flags"], {
      ...baseEnv,
      TENSOR_PARALLEL_SIZE: "3",
      MODEL_DIR: join(REPO, "test/fixtures/hf-cache"),
    });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain('TENSOR_PARALLEL_SIZE = "3"');
    expect(r.stderr).toContain(
      "Total number of attention heads (32) must be divisible by tensor parallel size (3)",
    );
    expect(r.stderr).toContain("Use one of: 1, 2, 4, 8, 16, 32.");
  });

  it("prints JSON argv with --json and never the secrets", async () => {
    const r = await runCli(["flags", "--json", "--max-model-len=4096"], {
      ...baseEnv,
      HF_TOKEN: "hf_topsecret",
      AUTH_TOKEN: "gw-secret",
    });
    expect(r.code).toBe(0);
    const { argv, env } = JSON.parse(r.stdout) as { argv: string[]; env: Record<string, string> };
    expect(argv.slice(0, 2)).toEqual(["vllm", "serve"]);
    expect(argv[argv.indexOf("--max-model-len") + 1]).toBe("4096");
    expect(env).toEqual({ VLLM_API_KEY: "***", CUDA_DEVICE_ORDER: "PCI_BUS_ID", HF_TOKEN: "***" });
    expect(r.stdout + r.stderr).not.toMatch(/topsecret|gw-secret/);
  });

  it("answers an unknown flag with one line and the usage, exit 2", async () => {
    const r = await runCli(["flags", "--bogus"], baseEnv);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe("llm-runner flags: unknown flag '--bogus'");
    expect(r.stderr).toContain("Usage: llm-runner flags");
  });

  it("rejects a 70B model on the (fake) single H100 with the memory numbers", async () => {
    const r = await runCli(["flags", "--model-id", "meta-llama/Meta-Llama-3.1-70B-Instruct"], {
      ...baseEnv,
      MODEL_DIR: join(REPO, "test/fixtures/hf-cache"),
      LLM_RUNNER_FAKE_GPUS: join(REPO, "test/fixtures/gpu/h100-query-gpu.csv"),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /--model-id = "meta-llama\/Meta-Llama-3\.1-70B-Instruct"\n.*weights alone need ~131\.\d GiB per GPU/,
    );
  });
});
