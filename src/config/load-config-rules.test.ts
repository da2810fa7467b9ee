import path from "node:path";
import { describe, expect, it } from "vitest";
import { staticGpuProbe } from "../gpu/static-probe.js";
import { formatConfigIssues } from "./config-issues.js";
import { bad, gpus, HF_CACHE, MODELS, ok } from "./testing/load-config-kit.js";

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

  it("rejects a simulator KV cache smaller than one MAX_MODEL_LEN sequence in 16-token blocks, as vLLM refuses to start", async () => {
    const issues = await bad({ ENGINE: "sim", MAX_MODEL_LEN: "100", SIM_KV_TOKENS: "111" });
    expect(issues).toEqual([
      expect.objectContaining({
        variable: "SIM_KV_TOKENS",
        message: expect.stringContaining("SIM_KV_TOKENS=112"),
      }),
    ]);
    expect(
      (await ok({ ENGINE: "sim", MAX_MODEL_LEN: "100", SIM_KV_TOKENS: "112" })).config.sim.kvTokens,
    ).toBe(112);
  });

  it("notes MAX_NUM_BATCHED_TOKENS against the default MAX_MODEL_LEN", async () => {
    const { warnings } = await ok({ MAX_NUM_BATCHED_TOKENS: "4096" });
    expect(warnings.join("\n")).toContain("is below MAX_MODEL_LEN (8192)");
  });
});

describe("loadConfig notes on who may reach the gateway", () => {
  it("warns that CORS_ORIGINS=* without AUTH_TOKEN lets any web page use the runner", async () => {
    const { warnings } = await ok({ CORS_ORIGINS: "*" });
    expect(warnings.join("\n")).toContain("CORS_ORIGINS=* without AUTH_TOKEN: any web page");
    expect((await ok({ CORS_ORIGINS: "*", AUTH_TOKEN: "t0ken" })).warnings.join("\n")).not.toContain(
      "CORS_ORIGINS=*",
    );
  });

  it("says ALLOWED_HOSTS is ignored unless the gateway is on loopback without AUTH_TOKEN", async () => {
    const onAll = await ok({ ALLOWED_HOSTS: "runner.lan" });
    expect(onAll.warnings.join("\n")).toContain("ALLOWED_HOSTS is ignored");
    expect(onAll.warnings.join("\n")).toContain("HOST=0.0.0.0");
    const withToken = await ok({ ALLOWED_HOSTS: "runner.lan", HOST: "127.0.0.1", AUTH_TOKEN: "t0ken" });
    expect(withToken.warnings.join("\n")).toContain("AUTH_TOKEN is set");
    const used = await ok({ ALLOWED_HOSTS: "runner.lan", HOST: "127.0.0.1" });
    expect(used.warnings.join("\n")).not.toContain("ALLOWED_HOSTS");
  });

  it("notes a MAX_CONNECTIONS below what admission can hold, with the number to set", async () => {
    const { warnings } = await ok({ MAX_CONNECTIONS: "100", MAX_NUM_SEQS: "64", QUEUE_SIZE: "64" });
    expect(warnings.join("\n")).toContain("Set MAX_CONNECTIONS=128 or more");
    expect(
      (await ok({ MAX_CONNECTIONS: "128", MAX_NUM_SEQS: "64", QUEUE_SIZE: "64" })).warnings.join("\n"),
    ).not.toContain("MAX_CONNECTIONS");
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
