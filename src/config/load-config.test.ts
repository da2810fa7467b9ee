import path from "node:path";
import { describe, expect, it } from "vitest";
import { H100 } from "../../test/helpers/gpu-fixtures.js";
import { staticGpuProbe } from "../gpu/static-probe.js";
import type { GpuInfo } from "../gpu/types.js";
import { formatConfigIssues } from "./config-issues.js";
import { ENV_NAMES } from "./env-schema.js";
import { type LoadConfigInput, loadConfig } from "./load-config.js";
import type { Config, ConfigIssue } from "./types.js";

const REPO = path.resolve(import.meta.dirname, "../..");
const HF_CACHE = path.join(REPO, "test/fixtures/hf-cache");
const MODELS = path.join(REPO, "test/fixtures/models");
const HOME = "/home/operator"; // does not exist: no default HF cache to find

async function ok(env: Record<string, string>, extra: Partial<LoadConfigInput> = {}) {
  const r = await loadConfig({ env: { HOME, ...env }, cwd: REPO, ...extra });
  if (!r.ok) throw new Error(`expected a valid config, got:\n${formatConfigIssues(r.issues)}`);
  return r;
}
async function bad(
  env: Record<string, string>,
  extra: Partial<LoadConfigInput> = {},
): Promise<ConfigIssue[]> {
  const r = await loadConfig({ env: { HOME, ...env }, cwd: REPO, ...extra });
  if (r.ok) throw new Error(`expected problems, got a valid config: ${JSON.stringify(r.config)}`);
  return r.issues;
}

const h100: GpuInfo = H100;
const gpus = (n: number) => staticGpuProbe(Array.from({ length: n }, (_, i) => ({ ...h100, index: i })));

describe("loadConfig defaults", () => {
  it("gives the documented defaults for an empty environment", async () => {
    const { config } = await ok({});
    const expected: Config = {
      modelId: "meta-llama/Meta-Llama-3.1-8B-Instruct",
      modelDir: null,
      hfToken: null,
      hfEndpoint: "https://huggingface.co",
      use8bit: false,
      pipelineParallelSize: 1,
      tensorParallelSize: 1,
      maxModelLen: 8192,
      maxNumBatchedTokens: 8192,
      maxNumSeqs: 128,
      gpuMemoryUtilization: 0.97,
      host: "0.0.0.0",
      port: 8000,
      authToken: null,
      queueSize: 256,
      maxBodyBytes: 1048576,
      runnerVersion: "0.14.1",
      corsOrigins: "*",
      engine: "vllm",
      driver: "docker",
      engineImage: "localhost/llm-runner-vllm:0.1.0",
      gpuIds: "all",
      enginePort: 8100,
      python: "python3",
      engineStallTimeoutMs: 300_000,
      engineHangTimeoutMs: 60_000,
      engineCanaryIntervalMs: 60_000,
      engineCanaryTimeoutMs: 30_000,
      engineHealthyResetMs: 600_000,
      drainTimeoutMs: 30_000,
      stopGraceMs: 10_000,
      pricePerUnit: 0.08,
      pixelsPerUnit: 1_000_000,
      currency: "USD",
      home: "/home/operator/.llm-runner",
      logLevel: "info",
      sim: {},
    };
    expect(config).toEqual(expected);
  });

  it("defaults ENGINE_IMAGE to the simulator image when ENGINE=sim", async () => {
    expect((await ok({ ENGINE: "sim" })).config.engineImage).toBe("localhost/llm-runner-sim:latest");
    expect((await ok({ ENGINE: "sim", ENGINE_IMAGE: "x/y:1" })).config.engineImage).toBe("x/y:1");
  });
});

// [variable, raw value, the Config field, the parsed value]
const GOOD: [string, string, keyof Config, unknown][] = [
  ["USE_8BIT", "true", "use8bit", true],
  ["USE_8BIT", "TRUE", "use8bit", true],
  ["USE_8BIT", "False", "use8bit", false],
  ["PIPELINE_PARALLEL_SIZE", "2", "pipelineParallelSize", 2],
  ["TENSOR_PARALLEL_SIZE", "4", "tensorParallelSize", 4],
  ["MAX_MODEL_LEN", "4096", "maxModelLen", 4096],
  ["MAX_NUM_BATCHED_TOKENS", "16384", "maxNumBatchedTokens", 16384],
  ["MAX_NUM_SEQS", "256", "maxNumSeqs", 256],
  ["GPU_MEMORY_UTILIZATION", "0.9", "gpuMemoryUtilization", 0.9],
  ["GPU_MEMORY_UTILIZATION", "1", "gpuMemoryUtilization", 1],
  ["GPU_MEMORY_UTILIZATION", ".5", "gpuMemoryUtilization", 0.5],
  ["MODEL_ID", "Qwen/Qwen2.5-0.5B-Instruct", "modelId", "Qwen/Qwen2.5-0.5B-Instruct"],
  ["MODEL_ID", "gpt2", "modelId", "gpt2"],
  [
    "MODEL_ID",
    "test/fixtures/models/Meta-Llama-3.1-8B-Instruct",
    "modelId",
    `${MODELS}/Meta-Llama-3.1-8B-Instruct`,
  ],
  ["MODEL_DIR", "~/hf", "modelDir", "/home/operator/hf"],
  ["MODEL_DIR", "", "modelDir", null],
  ["HF_TOKEN", "hf_abc", "hfToken", "hf_abc"],
  ["HF_TOKEN", "", "hfToken", null],
  ["HF_ENDPOINT", "https://hf-mirror.com/", "hfEndpoint", "https://hf-mirror.com"],
  ["HF_ENDPOINT", "http://127.0.0.1:8080/hub", "hfEndpoint", "http://127.0.0.1:8080/hub"],
  ["HOST", "127.0.0.1", "host", "127.0.0.1"],
  ["PORT", "9000", "port", 9000],
  ["PORT", " 9000 ", "port", 9000],
  ["AUTH_TOKEN", "s3cret-token", "authToken", "s3cret-token"],
  ["QUEUE_SIZE", "0", "queueSize", 0],
  ["MAX_BODY_BYTES", "2048", "maxBodyBytes", 2048],
  ["RUNNER_VERSION", "0.15.2", "runnerVersion", "0.15.2"],
  ["RUNNER_VERSION", "0.14.1-llm.2+build.7", "runnerVersion", "0.14.1-llm.2+build.7"],
  [
    "CORS_ORIGINS",
    "https://app.example.com, http://localhost:3000",
    "corsOrigins",
    ["https://app.example.com", "http://localhost:3000"],
  ],
  ["CORS_ORIGINS", "", "corsOrigins", []],
  ["ENGINE", "sim", "engine", "sim"],
  ["ENGINE", "VLLM", "engine", "vllm"],
  ["DRIVER", "process", "driver", "process"],
  ["ENGINE_IMAGE", "vllm/vllm-openai:v0.11.0", "engineImage", "vllm/vllm-openai:v0.11.0"],
  ["GPU_IDS", "ALL", "gpuIds", "all"],
  ["GPU_IDS", "0, 2,3", "gpuIds", [0, 2, 3]],
  ["ENGINE_PORT", "0", "enginePort", 0],
  ["PYTHON", "/usr/bin/python3.11", "python", "/usr/bin/python3.11"],
  ["ENGINE_STALL_TIMEOUT", "600", "engineStallTimeoutMs", 600_000],
  ["ENGINE_HANG_TIMEOUT", "0.5", "engineHangTimeoutMs", 500],
  ["ENGINE_CANARY_INTERVAL", "0", "engineCanaryIntervalMs", 0],
  ["ENGINE_CANARY_INTERVAL", "2.5", "engineCanaryIntervalMs", 2500],
  ["ENGINE_CANARY_TIMEOUT", "5", "engineCanaryTimeoutMs", 5000],
  ["ENGINE_HEALTHY_RESET", "15", "engineHealthyResetMs", 15_000],
  ["DRAIN_TIMEOUT", "0", "drainTimeoutMs", 0],
  ["ENGINE_STOP_GRACE", "2.5", "stopGraceMs", 2500],
  ["PRICE_PER_UNIT", "0", "pricePerUnit", 0],
  ["PRICE_PER_UNIT", "1.25", "pricePerUnit", 1.25],
  ["PIXELS_PER_UNIT", "1", "pixelsPerUnit", 1],
  ["CURRENCY", "wei", "currency", "wei"],
  ["LLM_RUNNER_HOME", "~", "home", "/home/operator"],
  ["LLM_RUNNER_HOME", "state", "home", `${REPO}/state`],
  ["LOG_LEVEL", "DEBUG", "logLevel", "debug"],
];

describe("loadConfig accepts each variable's valid forms", () => {
  it.each(GOOD)("%s=%j", async (name, value, field, expected) => {
    expect((await ok({ [name]: value })).config[field]).toEqual(expected);
  });

  it("maps the SIM_* knobs", async () => {
    const { config } = await ok({
      ENGINE: "sim",
      SIM_TTFT_MS: "50",
      SIM_ITL_MS: "0",
      SIM_LOAD_SECONDS: "1.5",
      SIM_CRASH_AFTER: "3",
      SIM_HANG_AFTER: "4",
      SIM_ERROR_RATE: "0.25",
      SIM_FAIL_START: "cuda_oom",
      SIM_MODE: "echo",
    });
    expect(config.sim).toEqual({
      ttftMs: 50,
      itlMs: 0,
      loadSeconds: 1.5,
      crashAfter: 3,
      hangAfter: 4,
      errorRate: 0.25,
      failStart: "cuda_oom",
      mode: "echo",
    });
  });
});

// [variable, raw value, a phrase the message must contain]
const BAD: [string, string, string][] = [
  ["USE_8BIT", "yes", '"true" or "false"'],
  ["USE_8BIT", "1", '"true" or "false"'],
  ["USE_8BIT", "", '"true" or "false"'],
  ["TENSOR_PARALLEL_SIZE", "0", "from 1 to 1024"],
  ["TENSOR_PARALLEL_SIZE", "two", "not a whole number"],
  ["PIPELINE_PARALLEL_SIZE", "-1", "must not be negative"],
  ["MAX_MODEL_LEN", "8k", 'suffixes like "k"'],
  ["MAX_MODEL_LEN", "1.5", "not a fraction"],
  ["MAX_MODEL_LEN", "", "is empty"],
  ["MAX_MODEL_LEN", "1e4", "not a whole number"],
  ["MAX_MODEL_LEN", "99999999999999999999", "≥ 1"],
  ["MAX_NUM_SEQS", "0", "≥ 1"],
  ["GPU_MEMORY_UTILIZATION", "0", "> 0 and ≤ 1"],
  ["GPU_MEMORY_UTILIZATION", "1.2", "> 0 and ≤ 1"],
  ["GPU_MEMORY_UTILIZATION", "90%", "not a percentage"],
  ["GPU_MEMORY_UTILIZATION", "abc", "not a decimal number"],
  ["MODEL_ID", "", "is empty"],
  ["MODEL_ID", "meta llama/x", "neither an existing local folder nor a valid Hugging Face repo id"],
  ["MODEL_ID", "/does/not/exist", "does not exist"],
  ["MODEL_ID", "test/fixtures", "has no config.json"],
  ["MODEL_DIR", "~bob/hf", '"~user" paths'],
  ["MODEL_DIR", "package.json", "is not a folder"],
  ["HOST", "", "is empty"],
  ["HOST", "0.0.0.0 ", "spaces"],
  ["PORT", "0", "from 1 to 65535"],
  ["PORT", "70000", "from 1 to 65535"],
  ["PORT", "80a", "not a whole number"],
  ["AUTH_TOKEN", "", "unset AUTH_TOKEN to run without auth"],
  ["HF_TOKEN", "hf_x\n", "line breaks"],
  ["HF_ENDPOINT", "huggingface.co", "is not a URL"],
  ["HF_ENDPOINT", "ftp://mirror.example", "must be an http(s) URL"],
  ["HF_ENDPOINT", "https://mirror.example/?x=1", "must not have a query"],
  ["QUEUE_SIZE", "-5", "must not be negative"],
  ["MAX_BODY_BYTES", "1MB", "not a whole number"],
  ["RUNNER_VERSION", "v0.14.1", "must be a semantic version MAJOR.MINOR.PATCH"],
  ["RUNNER_VERSION", "0.14", "must be a semantic version MAJOR.MINOR.PATCH"],
  ["CORS_ORIGINS", "https://app.example.com/", "not an origin"],
  ["CORS_ORIGINS", "*,https://a.example", 'mixes "*"'],
  ["ENGINE", "tgi", "one of: vllm, sim"],
  ["DRIVER", "podman", "one of: docker, process"],
  ["ENGINE_IMAGE", "", "is empty"],
  ["GPU_IDS", "", "is empty"],
  ["GPU_IDS", "0-3", "not a list of GPU indexes"],
  ["GPU_IDS", "1,1", "lists GPU 1 twice"],
  ["ENGINE_PORT", "65536", "from 0 to 65535"],
  ["ENGINE_PORT", "8000", "same as PORT"],
  ["PYTHON", "", "is empty"],
  ["ENGINE_STALL_TIMEOUT", "0", "> 0"],
  ["ENGINE_HANG_TIMEOUT", "5m", "not a decimal number"],
  ["ENGINE_CANARY_INTERVAL", "-1", "must not be negative"],
  ["ENGINE_CANARY_INTERVAL", "100000", "≤ 86400"],
  ["ENGINE_CANARY_TIMEOUT", "0", "> 0"],
  ["ENGINE_HEALTHY_RESET", "10m", "not a decimal number"],
  ["DRAIN_TIMEOUT", "-1", "must not be negative"],
  ["PRICE_PER_UNIT", "$0.08", "not a decimal number"],
  ["PIXELS_PER_UNIT", "0", "≥ 1"],
  ["CURRENCY", "US$", "letters only"],
  ["LLM_RUNNER_HOME", "", "is empty"],
  ["LOG_LEVEL", "verbose", "one of: trace, debug, info, warn, error"],
  ["SIM_TTFT_MS", "fast", "not a decimal number"],
  ["SIM_ERROR_RATE", "2", "≤ 1"],
  ["SIM_CRASH_AFTER", "1.5", "not a fraction"],
  ["SIM_FAIL_START", "meltdown", "one of: cuda_oom"],
  ["SIM_MODE", "poem", "one of: echo, lorem"],
];

describe("loadConfig rejects each rule's violations", () => {
  it.each(BAD)("%s=%j", async (name, value, phrase) => {
    const issues = await bad({ [name]: value });
    expect(issues).toHaveLength(1);
    const [issue] = issues as [ConfigIssue];
    expect(issue.variable).toBe(name);
    if (name !== "AUTH_TOKEN" && name !== "HF_TOKEN") expect(issue.value).toBe(value);
    expect(issue.message).toContain(phrase);
  });

  it("has a test row for every variable it reads", () => {
    const tested = new Set([...GOOD.map((r) => r[0]), ...BAD.map((r) => r[0])]);
    expect(ENV_NAMES.filter((n) => !tested.has(n) && !n.startsWith("SIM_"))).toEqual([]);
  });
});

describe("loadConfig rules between variables", () => {
  it("accepts MAX_NUM_BATCHED_TOKENS below MAX_MODEL_LEN (vLLM V1 chunks prefill) with a note naming both", async () => {
    const { config, warnings } = await ok({ MAX_MODEL_LEN: "16384", MAX_NUM_BATCHED_TOKENS: "8192" });
    expect(config.maxNumBatchedTokens).toBe(8192);
    expect(warnings).toContainEqual(
      expect.stringMatching(
        /^MAX_NUM_BATCHED_TOKENS \(8192\) is below MAX_MODEL_LEN \(16384\): vLLM chunks the prefill/,
      ),
    );
    expect(warnings.join("\n")).toContain("set MAX_NUM_BATCHED_TOKENS=16384 for the same behaviour");
  });

  it("rejects MAX_NUM_BATCHED_TOKENS below MAX_NUM_SEQS with vLLM's words", async () => {
    const issues = await bad({ MAX_MODEL_LEN: "64", MAX_NUM_BATCHED_TOKENS: "100", MAX_NUM_SEQS: "128" });
    expect(issues.map((i) => i.message)).toEqual([
      expect.stringContaining(
        "max_num_batched_tokens (100) must be greater than or equal to max_num_seqs (128)",
      ),
    ]);
  });

  it("notes MAX_NUM_BATCHED_TOKENS against the default MAX_MODEL_LEN", async () => {
    const { warnings } = await ok({ MAX_NUM_BATCHED_TOKENS: "4096" });
    expect(warnings.join("\n")).toContain("is below MAX_MODEL_LEN (8192)");
  });
});

describe("loadConfig reports every problem at once", () => {
  it("lists each bad variable with its value, in one result", async () => {
    const issues = await bad({
      USE_8BIT: "yes",
      MAX_MODEL_LEN: "8k",
      MAX_NUM_BATCHED_TOKENS: "100",
      MAX_NUM_SEQS: "128",
      PORT: "-1",
      AUTH_TOKEN: "a b",
      TENSOR_PARALLEL_SIZE: "3",
      MODEL_DIR: HF_CACHE,
    });
    expect(issues.map((i) => [i.variable, i.value])).toEqual([
      ["USE_8BIT", "yes"],
      ["MAX_MODEL_LEN", "8k"],
      ["PORT", "-1"],
      ["AUTH_TOKEN", "*** (3 characters)"],
      ["MAX_NUM_BATCHED_TOKENS", "100"],
      ["TENSOR_PARALLEL_SIZE", "3"],
    ]);
    const text = formatConfigIssues(issues);
    expect(text).toMatch(/^The configuration has 6 problems:/);
    expect(text).not.toContain("a b");
  });

  it("never shows a secret's value", async () => {
    const issues = await bad({ HF_TOKEN: "hf_secretvalue\n", AUTH_TOKEN: "tok en" });
    expect(JSON.stringify(issues)).not.toMatch(/secretvalue|tok en/);
    expect(issues.map((i) => i.value)).toEqual(["*** (15 characters)", "*** (6 characters)"]);
  });
});

describe("loadConfig overrides (CLI flags)", () => {
  it("lets an override win over the environment", async () => {
    const { config } = await ok({ PORT: "9000", MAX_NUM_SEQS: "64" }, { overrides: { PORT: "9100" } });
    expect(config.port).toBe(9100);
    expect(config.maxNumSeqs).toBe(64);
  });

  it("names the flag when a bad value came from one", async () => {
    const [issue] = await bad({ PORT: "9000" }, { overrides: { PORT: "x" } });
    expect(issue).toMatchObject({ variable: "--port", value: "x" });
  });

  it("rejects an override that is not a variable", async () => {
    const [issue] = await bad({}, { overrides: { NOT_A_VAR: "1" } });
    expect(issue).toMatchObject({ variable: "NOT_A_VAR", message: "is not a configuration variable." });
  });
});

describe("loadConfig warnings", () => {
  it("points out a misspelt variable that would be ignored", async () => {
    const { warnings } = await ok({ TENSOR_PARALELL_SIZE: "2" });
    expect(warnings).toContainEqual(expect.stringContaining("did you mean TENSOR_PARALLEL_SIZE?"));
  });

  it("warns that the gateway is open when it listens beyond loopback without AUTH_TOKEN", async () => {
    expect((await ok({})).warnings).toContainEqual(
      expect.stringContaining("AUTH_TOKEN is not set and HOST=0.0.0.0"),
    );
    expect((await ok({ AUTH_TOKEN: "t" })).warnings.join()).not.toContain("AUTH_TOKEN");
    expect((await ok({ HOST: "127.0.0.1" })).warnings.join()).not.toContain("AUTH_TOKEN");
  });

  it("says SIM_* knobs are ignored with ENGINE=vllm", async () => {
    const { warnings } = await ok({ SIM_ITL_MS: "5" });
    expect(warnings).toContainEqual(expect.stringContaining("SIM_ITL_MS only apply to ENGINE=sim"));
  });

  it("says GPU checks were skipped when no GPU is found", async () => {
    const { warnings } = await ok({}, { gpuProbe: staticGpuProbe([]) });
    expect(warnings).toContainEqual(expect.stringContaining("no NVIDIA GPU found"));
  });

  it("says GPU checks were skipped when the probe fails", async () => {
    const failing = { list: () => Promise.reject(new Error("driver not loaded")) };
    const { warnings } = await ok({}, { gpuProbe: failing });
    expect(warnings).toContainEqual(expect.stringContaining("could not read the GPUs (driver not loaded)"));
  });
});

describe("loadConfig model-aware checks", () => {
  it("explains why TP=3 is wrong for a 32-head model found in MODEL_DIR", async () => {
    const [issue] = await bad({ TENSOR_PARALLEL_SIZE: "3", MODEL_DIR: HF_CACHE });
    expect(issue?.variable).toBe("TENSOR_PARALLEL_SIZE");
    expect(issue?.message).toContain(
      "Total number of attention heads (32) must be divisible by tensor parallel size (3)",
    );
    expect(issue?.message).toContain("Use one of: 1, 2, 4, 8, 16, 32.");
  });

  it("checks a local model folder given as MODEL_ID", async () => {
    const issues = await bad({
      MODEL_ID: path.join(MODELS, "Meta-Llama-3.1-70B-Instruct"),
      PIPELINE_PARALLEL_SIZE: "81",
      MAX_MODEL_LEN: "200000",
      MAX_NUM_BATCHED_TOKENS: "200000",
    });
    expect(issues.map((i) => i.variable)).toEqual(["PIPELINE_PARALLEL_SIZE", "MAX_MODEL_LEN"]);
    expect(issues[0]?.message).toContain("81 pipeline stages exceed the model's 80 layers");
    expect(issues[1]?.message).toContain("maximum context of 131072");
  });

  it("runs the model checks with ENGINE=sim but not the GPU checks", async () => {
    const probe = { list: () => Promise.reject(new Error("must not be called")) };
    const issues = await bad(
      { ENGINE: "sim", TENSOR_PARALLEL_SIZE: "3", MODEL_DIR: HF_CACHE },
      { gpuProbe: probe },
    );
    expect(issues.map((i) => i.variable)).toEqual(["TENSOR_PARALLEL_SIZE"]);
    const good = await ok(
      { ENGINE: "sim", TENSOR_PARALLEL_SIZE: "8", MODEL_DIR: HF_CACHE },
      { gpuProbe: probe },
    );
    expect(good.warnings.join("\n")).not.toMatch(/NVIDIA GPU|could not read the GPUs/);
  });

  it("finds the model in the default Hugging Face cache when MODEL_DIR is unset", async () => {
    const issues = await bad({ HF_HUB_CACHE: HF_CACHE, TENSOR_PARALLEL_SIZE: "5" });
    expect(issues[0]?.message).toContain("attention heads (32)");
  });

  it("rejects TP x PP beyond the GPUs the engine gets, naming both numbers", async () => {
    const [issue] = await bad({ TENSOR_PARALLEL_SIZE: "4", MODEL_DIR: HF_CACHE }, { gpuProbe: gpus(2) });
    expect(issue?.message).toContain("= 4 × 1 = 4 GPUs, but the engine gets 2");
    expect(issue?.message).toContain("Ray");
  });

  it("rejects GPU_IDS that the host does not have", async () => {
    const [issue] = await bad({ GPU_IDS: "0,3" }, { gpuProbe: gpus(2) });
    expect(issue).toMatchObject({ variable: "GPU_IDS", value: "0,3" });
    expect(issue?.message).toContain("GPU 3 does not exist: nvidia-smi shows GPU 0, 1");
  });

  it("rejects a 70B model on one 80 GB GPU with the numbers and the fixes", async () => {
    const [issue] = await bad(
      { MODEL_ID: "meta-llama/Meta-Llama-3.1-70B-Instruct", MODEL_DIR: HF_CACHE },
      { gpuProbe: gpus(1) },
    );
    expect(issue?.variable).toBe("MODEL_ID");
    expect(issue?.message).toMatch(/weights alone need ~131\.\d GiB per GPU/);
    expect(issue?.message).toContain("gives the engine 77.3 GiB at GPU_MEMORY_UTILIZATION=0.97");
    expect(issue?.message).toContain("TENSOR_PARALLEL_SIZE=2");
    expect(issue?.message).toContain("USE_8BIT=true");
  });

  it("accepts a 70B model over two 80 GB GPUs", async () => {
    const env = {
      MODEL_ID: "meta-llama/Meta-Llama-3.1-70B-Instruct",
      MODEL_DIR: HF_CACHE,
      TENSOR_PARALLEL_SIZE: "2",
      HOST: "127.0.0.1",
    };
    const { config, warnings } = await ok(env, { gpuProbe: gpus(2) });
    expect(config.tensorParallelSize).toBe(2);
    expect(warnings).toEqual([]);
  });
});
