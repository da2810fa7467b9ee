import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { captureIO } from "../../../test/helpers/capture-io.js";
import { UsageError } from "../cli-command.js";
import { flagsCommand, shellQuote } from "./flags.js";

const REPO = path.resolve(import.meta.dirname, "../../..");
const FAKE_GPU = path.join(REPO, "test/fixtures/gpu/h100-query-gpu.csv");
const HF_CACHE = path.join(REPO, "test/fixtures/hf-cache");

async function runFlags(args: string[], env: Record<string, string> = {}) {
  // PATH without nvidia-smi: the real probe finds no GPU, as on this machine.
  const c = captureIO({ HOME: "/home/operator", PATH: "/nonexistent", ...env }, REPO);
  const code = await flagsCommand.run(args, c.io);
  return { code, out: c.out(), err: c.err() };
}

/** What a POSIX shell makes of a line: each word, NUL-separated. */
function shellWords(line: string): string[] {
  return execFileSync("/bin/sh", ["-c", `printf '%s\\0' ${line}`], { encoding: "utf8" })
    .split("\0")
    .slice(0, -1);
}

describe("llm-runner flags", () => {
  it("prints a pasteable vllm serve line, the API key masked in front", async () => {
    const { code, out, err } = await runFlags([]);
    expect(code).toBe(0);
    expect(out).toBe(
      "VLLM_API_KEY='***' CUDA_DEVICE_ORDER=PCI_BUS_ID vllm serve meta-llama/Meta-Llama-3.1-8B-Instruct --served-model-name meta-llama/Meta-Llama-3.1-8B-Instruct --host 127.0.0.1 --port 8100 --tensor-parallel-size 1 --pipeline-parallel-size 1 --max-model-len 8192 --max-num-batched-tokens 8192 --max-num-seqs 128 --gpu-memory-utilization 0.97 --shutdown-timeout 31 --disable-uvicorn-access-log\n",
    );
    expect(err).toMatch(/^! no NVIDIA GPU found/m);
  });

  it("prints argv and the masked environment as JSON, flags overriding env", async () => {
    const { code, out } = await runFlags(["--json", "--max-num-seqs", "64", "--use-8bit"], {
      MAX_NUM_SEQS: "32",
      HF_TOKEN: "hf_realsecret",
      GPU_IDS: "0",
    });
    expect(code).toBe(0);
    const parsed = JSON.parse(out) as { argv: string[]; env: Record<string, string> };
    expect(parsed.argv.slice(0, 3)).toEqual(["vllm", "serve", "meta-llama/Meta-Llama-3.1-8B-Instruct"]);
    expect(parsed.argv).toContain("bitsandbytes");
    expect(parsed.argv[parsed.argv.indexOf("--max-num-seqs") + 1]).toBe("64");
    expect(parsed.env).toEqual({
      VLLM_API_KEY: "***",
      CUDA_DEVICE_ORDER: "PCI_BUS_ID",
      HF_TOKEN: "***",
      CUDA_VISIBLE_DEVICES: "0",
    });
    expect(out).not.toContain("realsecret");
  });

  it("shows the engine's tracing flag and environment, the exporter's headers masked", async () => {
    const { code, out } = await runFlags(["--json"], {
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_EXPORTER_OTLP_HEADERS: "x-honeycomb-team=realsecret",
    });
    expect(code).toBe(0);
    const parsed = JSON.parse(out) as { argv: string[]; env: Record<string, string> };
    expect(parsed.argv[parsed.argv.indexOf("--otlp-traces-endpoint") + 1]).toBe(
      "http://collector:4318/v1/traces",
    );
    expect(parsed.env).toMatchObject({
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf",
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: "***",
    });
    expect(out).not.toContain("realsecret");
  });

  it("quotes paths so a shell reads back the exact argv", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "llm-runner-flags-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const model = path.join(dir, "my model's $dir");
    mkdirSync(model);
    copyFileSync(
      path.join(REPO, "test/fixtures/models/Meta-Llama-3.1-8B-Instruct/config.json"),
      path.join(model, "config.json"),
    );
    const json = await runFlags(["--json", "--model-id", model]);
    const text = await runFlags(["--model-id", model]);
    const { argv } = JSON.parse(json.out) as { argv: string[] };
    expect(argv[2]).toBe(model);
    expect(shellWords(text.out.trim())).toEqual([
      "VLLM_API_KEY=***",
      "CUDA_DEVICE_ORDER=PCI_BUS_ID",
      ...argv,
    ]);
  });

  it("lists every problem on stderr and exits 2", async () => {
    const { code, out, err } = await runFlags([], {
      TENSOR_PARALLEL_SIZE: "3",
      MODEL_DIR: HF_CACHE,
      PORT: "http",
    });
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err).toContain("The configuration has 2 problems:");
    expect(err).toContain('PORT = "http"');
    expect(err).toContain(
      "Total number of attention heads (32) must be divisible by tensor parallel size (3)",
    );
  });

  it("checks against LLM_RUNNER_FAKE_GPUS (a testing aid) as if nvidia-smi listed them", async () => {
    const { code, err } = await runFlags(["--tensor-parallel-size=2"], { LLM_RUNNER_FAKE_GPUS: FAKE_GPU });
    expect(code).toBe(2);
    expect(err).toContain("= 2 × 1 = 2 GPUs, but the engine gets 1");
  });

  it("notes the KV-cache estimate on stderr, keeping stdout the command alone", async () => {
    const model = path.join(REPO, "test/fixtures/models/Meta-Llama-3.1-8B-Instruct");
    const { code, out, err } = await runFlags(["--model-id", model], { LLM_RUNNER_FAKE_GPUS: FAKE_GPU });
    expect(code).toBe(0);
    expect(out).toMatch(/^VLLM_API_KEY='\*\*\*' CUDA_DEVICE_ORDER=PCI_BUS_ID vllm serve [^\n]+\n$/);
    expect(err).toMatch(
      /^✔ KV cache ≈ [\d,]+ tokens \(±15 % estimate\), max concurrency at full length \(MAX_MODEL_LEN=8192\) ≈ \d+× \(MAX_NUM_SEQS=128/m,
    );
  });

  it("refuses a MAX_MODEL_LEN the KV cache cannot hold, before any load (exit 2)", async () => {
    const model = path.join(REPO, "test/fixtures/models/Meta-Llama-3.1-70B-Instruct");
    const { code, out, err } = await runFlags(
      ["--model-id", model, "--use-8bit", "--max-model-len", "131072"],
      { LLM_RUNNER_FAKE_GPUS: FAKE_GPU },
    );
    expect(code).toBe(2);
    expect(out).toBe("");
    expect(err).toMatch(
      /--max-model-len = "131072"\n\s+131072 tokens do not fit the KV cache: .*Fix: MAX_MODEL_LEN=\d+ or lower/,
    );
  });

  it("shows the simulator's command for ENGINE=sim without GPU warnings", async () => {
    const { code, out, err } = await runFlags(["--engine", "sim"], { SIM_MODE: "echo" });
    expect(code).toBe(0);
    expect(out).toMatch(
      /^VLLM_API_KEY='\*\*\*' CUDA_DEVICE_ORDER=PCI_BUS_ID python3 -m llm_runtime --engine sim meta-llama\/.* --sim-mode echo\n$/,
    );
    expect(err).not.toMatch(/NVIDIA GPU|GPU count/);
  });

  it("refuses an unknown flag and a config flag without its value", async () => {
    await expect(runFlags(["--bogus"])).rejects.toThrow(new UsageError("unknown flag '--bogus'"));
    await expect(runFlags(["--port"])).rejects.toThrow(UsageError);
  });
});

describe("shellQuote", () => {
  it.each(["plain", "", "a b", "it's", "$HOME", "*", "a\nb", "--flag=x,y:z/w@1%"])(
    "%j survives sh",
    (word) => {
      expect(shellWords(shellQuote(word))).toEqual([word]);
    },
  );

  it("REPLICAS=auto with TP=2 on 8 × H100: one argv per replica, each with its GPUs and port", async () => {
    const fake = path.join(REPO, "test/fixtures/gpu/8xh100-query-gpu.csv");
    const env = { LLM_RUNNER_FAKE_GPUS: fake, TENSOR_PARALLEL_SIZE: "2" };
    const { code, out } = await runFlags(["--json", "--replicas", "auto"], env);
    expect(code).toBe(0);
    const parsed = JSON.parse(out) as {
      argv: string[];
      replicas: Array<{ replica: number; gpus: string; argv: string[]; env: Record<string, string> }>;
    };
    expect(parsed.replicas.map((r) => [r.replica, r.gpus, r.env.CUDA_VISIBLE_DEVICES])).toEqual([
      [0, "0,1", "0,1"],
      [1, "2,3", "2,3"],
      [2, "4,5", "4,5"],
      [3, "6,7", "6,7"],
    ]);
    expect(parsed.replicas.map((r) => r.argv[r.argv.indexOf("--port") + 1])).toEqual([
      "8100",
      "8101",
      "8102",
      "8103",
    ]);
    expect(parsed.argv).toEqual(parsed.replicas[0]?.argv);
    const text = await runFlags(["--replicas", "auto"], env);
    expect(text.out.split("\n").filter((l) => l.startsWith("# replica"))).toEqual([
      "# replica 0 (GPU 0,1)",
      "# replica 1 (GPU 2,3)",
      "# replica 2 (GPU 4,5)",
      "# replica 3 (GPU 6,7)",
    ]);
  });

  it("REPLICAS that the GPUs cannot hold: exit 2 naming REPLICAS", async () => {
    const fake = path.join(REPO, "test/fixtures/gpu/8xh100-query-gpu.csv");
    const { code, err } = await runFlags(["--replicas", "3"], {
      LLM_RUNNER_FAKE_GPUS: fake,
      TENSOR_PARALLEL_SIZE: "4",
    });
    expect(code).toBe(2);
    expect(err).toContain("REPLICAS");
    expect(err).toContain("3 × 4 × 1 = 12 GPUs, but the engines get 8");
  });
});
