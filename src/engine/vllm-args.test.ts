import { readFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/load-config.js";
import type { Config } from "../config/types.js";
import { FATAL_REASONS } from "../protocol/lifecycle.js";
import { listenAddress } from "./engine-layout.js";
import { buildVllmArgs, engineCommand, engineEnv, engineFiles } from "./vllm-args.js";

const REPO = path.resolve(import.meta.dirname, "../..");
const SERVE_FLAGS = new Set(
  readFileSync(path.join(REPO, "test/fixtures/vllm/serve-flags.txt"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /^--[a-z0-9-]+$/.test(l)),
);

async function configFrom(env: Record<string, string>): Promise<Config> {
  const r = await loadConfig({ env: { HOME: "/home/operator", ...env }, cwd: REPO });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

/** Reads an argv back into flag -> value; flags that take no value map to true. */
function parseArgv(argv: string[]): { model: string; flags: Map<string, string | true> } {
  const [model, ...rest] = argv;
  const flags = new Map<string, string | true>();
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i] as string;
    expect(flag.startsWith("--"), `expected a flag at ${i + 1}: ${argv.join(" ")}`).toBe(true);
    expect(flags.has(flag), `${flag} given twice`).toBe(false);
    const next = rest[i + 1];
    if (next === undefined || next.startsWith("--")) flags.set(flag, true);
    else {
      flags.set(flag, next);
      i++;
    }
  }
  return { model: model as string, flags };
}

const VALUE_FLAGS: [string, (c: Config) => string][] = [
  ["--served-model-name", (c) => c.modelId],
  ["--tensor-parallel-size", (c) => String(c.tensorParallelSize)],
  ["--pipeline-parallel-size", (c) => String(c.pipelineParallelSize)],
  ["--max-model-len", (c) => String(c.maxModelLen)],
  ["--max-num-batched-tokens", (c) => String(c.maxNumBatchedTokens)],
  ["--max-num-seqs", (c) => String(c.maxNumSeqs)],
  ["--gpu-memory-utilization", (c) => String(c.gpuMemoryUtilization)],
];

describe("buildVllmArgs", () => {
  it("builds the default command for the process driver", async () => {
    const config = await configFrom({});
    expect(buildVllmArgs(config, "process", listenAddress("process", 8100))).toEqual([
      "meta-llama/Meta-Llama-3.1-8B-Instruct",
      "--served-model-name",
      "meta-llama/Meta-Llama-3.1-8B-Instruct",
      "--host",
      "127.0.0.1",
      "--port",
      "8100",
      "--tensor-parallel-size",
      "1",
      "--pipeline-parallel-size",
      "1",
      "--max-model-len",
      "8192",
      "--max-num-batched-tokens",
      "8192",
      "--max-num-seqs",
      "128",
      "--gpu-memory-utilization",
      "0.97",
      "--shutdown-timeout",
      "31",
      "--disable-uvicorn-access-log",
    ]);
  });

  // [env, flags that must appear with these values, flags that must not appear]
  const MATRIX: [Record<string, string>, Record<string, string | true>, string[]][] = [
    [{ USE_8BIT: "true" }, { "--quantization": "bitsandbytes" }, []],
    [{ USE_8BIT: "false" }, {}, ["--quantization"]],
    [
      { TENSOR_PARALLEL_SIZE: "4", PIPELINE_PARALLEL_SIZE: "2" },
      { "--tensor-parallel-size": "4", "--pipeline-parallel-size": "2" },
      [],
    ],
    [
      { MAX_MODEL_LEN: "4096", MAX_NUM_BATCHED_TOKENS: "16384", MAX_NUM_SEQS: "32" },
      { "--max-model-len": "4096", "--max-num-batched-tokens": "16384", "--max-num-seqs": "32" },
      [],
    ],
    [{ GPU_MEMORY_UTILIZATION: "0.9" }, { "--gpu-memory-utilization": "0.9" }, []],
    [{ MODEL_DIR: "/data/hf" }, { "--download-dir": "/data/hf" }, []],
    [{ LOG_LEVEL: "debug" }, {}, ["--disable-uvicorn-access-log"]],
    [{ ENGINE_PORT: "9123" }, { "--port": "9123" }, []],
    [{ HF_TOKEN: "hf_secret", AUTH_TOKEN: "tok" }, {}, ["--api-key", "--hf-token"]],
    [{ SIM_ITL_MS: "5" }, {}, ["--sim-itl-ms"]],
    [{ SIM_KV_TOKENS: "65536", SIM_PREFILL_TPS: "0" }, {}, ["--sim-kv-tokens", "--sim-prefill-tps"]],
    [
      { SIM_SLEEP_SECONDS: "1", SIM_WAKE_SECONDS: "1", SIM_WEIGHTS_GIB: "15", SIM_WAKE_FAIL: "1" },
      {},
      ["--sim-sleep-seconds", "--sim-wake-seconds", "--sim-weights-gib", "--sim-wake-fail"],
    ],
    // vLLM reports usage.prompt_tokens_details.cached_tokens only with this flag (off by default there and here).
    [{ ENABLE_PROMPT_TOKENS_DETAILS: "true" }, { "--enable-prompt-tokens-details": true }, []],
    [{ ENABLE_PROMPT_TOKENS_DETAILS: "false" }, {}, ["--enable-prompt-tokens-details"]],
    // vLLM drains on SIGTERM for --shutdown-timeout s (0.18+, vllm-project/vllm#36666; 0 aborts in-flight
    // requests): just past DRAIN_TIMEOUT, so the gateway's deadline comes first.
    [{ DRAIN_TIMEOUT: "30" }, { "--shutdown-timeout": "31" }, []],
    [{ DRAIN_TIMEOUT: "2.5" }, { "--shutdown-timeout": "4" }, []],
    [{ DRAIN_TIMEOUT: "0" }, { "--shutdown-timeout": "0" }, []],
    // vLLM exports its own spans where ours go (ObservabilityConfig.otlp_traces_endpoint); detailed traces stay off.
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" },
      { "--otlp-traces-endpoint": "http://collector:4318/v1/traces" },
      ["--collect-detailed-traces"],
    ],
    [{}, {}, ["--otlp-traces-endpoint", "--collect-detailed-traces"]],
  ];
  it.each(MATRIX)("%j", async (env, present, absent) => {
    const config = await configFrom(env);
    const { flags } = parseArgv(
      buildVllmArgs(config, "process", listenAddress("process", config.enginePort)),
    );
    for (const [flag, value] of Object.entries(present)) expect(flags.get(flag)).toBe(value);
    for (const flag of absent) expect(flags.has(flag)).toBe(false);
  });

  it("passes the simulator knobs only with ENGINE=sim", async () => {
    const config = await configFrom({
      ENGINE: "sim",
      SIM_ITL_MS: "0",
      SIM_FAIL_START: "cuda_oom",
      SIM_MODE: "echo",
      SIM_KV_TOKENS: "65536",
      SIM_PREFILL_TPS: "0",
      SIM_SLEEP_SECONDS: "0.25",
      SIM_WAKE_SECONDS: "0.5",
      SIM_WEIGHTS_GIB: "15",
      SIM_WAKE_FAIL: "3",
    });
    const { flags } = parseArgv(buildVllmArgs(config, "process", listenAddress("process", 8100)));
    expect(flags.get("--sim-itl-ms")).toBe("0");
    expect(flags.get("--sim-fail-start")).toBe("cuda_oom");
    expect(flags.get("--sim-mode")).toBe("echo");
    expect(flags.get("--sim-kv-tokens")).toBe("65536");
    expect(flags.get("--sim-prefill-tps")).toBe("0");
    expect(flags.get("--sim-sleep-seconds")).toBe("0.25");
    expect(flags.get("--sim-wake-seconds")).toBe("0.5");
    expect(flags.get("--sim-weights-gib")).toBe("15");
    expect(flags.get("--sim-wake-fail")).toBe("3");
    expect(flags.has("--sim-ttft-ms")).toBe(false);
  });
});

describe("engineFiles and listenAddress", () => {
  it("runs a local model folder by its path with the process driver", async () => {
    const config = await configFrom({ MODEL_ID: "test/fixtures/models/Meta-Llama-3.1-8B-Instruct" });
    const local = path.join(REPO, "test/fixtures/models/Meta-Llama-3.1-8B-Instruct");
    expect(listenAddress("process", 4000)).toEqual({ host: "127.0.0.1", port: 4000 });
    expect(engineFiles(config, "process")).toEqual({
      model: local,
      downloadDir: null,
      localModelPath: local,
    });
  });

  it("puts the engine on 0.0.0.0:8000 inside the container, models under /models", async () => {
    const local = await configFrom({
      MODEL_ID: "test/fixtures/models/Meta-Llama-3.1-8B-Instruct",
      MODEL_DIR: "/data/hf",
    });
    expect(listenAddress("docker", 4000)).toEqual({ host: "0.0.0.0", port: 8000 });
    expect(engineFiles(local, "docker")).toEqual({
      model: "/models/Meta-Llama-3.1-8B-Instruct",
      downloadDir: "/models",
      localModelPath: path.join(REPO, "test/fixtures/models/Meta-Llama-3.1-8B-Instruct"),
    });
    const hub = await configFrom({});
    expect(engineFiles(hub, "docker")).toMatchObject({
      model: hub.modelId,
      downloadDir: null,
      localModelPath: null,
    });
  });
});

describe("engineCommand and engineEnv", () => {
  it("shows vllm serve for vLLM and the runtime's simulator for ENGINE=sim", async () => {
    expect(engineCommand(await configFrom({})).slice(0, 3)).toEqual([
      "vllm",
      "serve",
      "meta-llama/Meta-Llama-3.1-8B-Instruct",
    ]);
    expect(engineCommand(await configFrom({ ENGINE: "sim", PYTHON: "python3.12" })).slice(0, 5)).toEqual([
      "python3.12",
      "-m",
      "llm_runtime",
      "--engine",
      "sim",
    ]);
  });

  it("passes the API key, HF token and PCI-bus GPU order in the environment, and GPU_IDS to the process driver", async () => {
    const config = await configFrom({ HF_TOKEN: "hf_x", GPU_IDS: "1,3" });
    expect(engineEnv(config, "process", "k")).toEqual({
      VLLM_API_KEY: "k",
      CUDA_DEVICE_ORDER: "PCI_BUS_ID",
      HF_TOKEN: "hf_x",
      CUDA_VISIBLE_DEVICES: "1,3",
    });
    expect(engineEnv(config, "docker", "k")).toEqual({
      VLLM_API_KEY: "k",
      CUDA_DEVICE_ORDER: "PCI_BUS_ID",
      HF_TOKEN: "hf_x",
    });
  });

  it("tells vLLM to export over OTLP/HTTP as 'vllm', following the gateway's sampling, with the backend's headers", async () => {
    const off = await configFrom({});
    expect(Object.keys(engineEnv(off, "process", "k")).filter((k) => k.startsWith("OTEL_"))).toEqual([]);
    const on = await configFrom({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_TRACES_SAMPLER: "traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.1",
      OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=abc",
    });
    for (const driver of ["process", "docker"] as const) {
      expect(engineEnv(on, driver, "k")).toMatchObject({
        // vllm/tracing get_span_exporter: "grpc" unless this says "http/protobuf".
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf",
        OTEL_SERVICE_NAME: "vllm",
        OTEL_TRACES_SAMPLER: "parentbased_always_on",
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-api-key=abc",
      });
    }
  });

  it("starts the engine offline once start has pulled the model, reading the cache it was pulled into", async () => {
    const config = await configFrom({ MODEL_DIR: "/srv/hf" });
    expect(engineEnv(config, "docker", "k").HF_HUB_OFFLINE).toBeUndefined();
    config.hubOffline = true;
    expect(engineEnv(config, "docker", "k")).toMatchObject({ HF_HUB_OFFLINE: "1", HF_HUB_CACHE: "/models" });
    expect(engineEnv(config, "process", "k")).toMatchObject({ HF_HUB_OFFLINE: "1", HF_HUB_CACHE: "/srv/hf" });
    // No MODEL_DIR: the pull used the default cache, which the engine's huggingface_hub finds by itself.
    const noDir = await configFrom({ DRIVER: "process" });
    noDir.hubOffline = true;
    expect(engineEnv(noDir, "process", "k").HF_HUB_CACHE).toBeUndefined();
  });
});

// Any config loadConfig could produce, as far as the builder reads it.
const configArb = fc
  .record({
    modelId: fc.oneof(
      fc.constantFrom("meta-llama/Meta-Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", "gpt2"),
      fc.stringMatching(/^\/[a-z0-9_-]{1,12}(\/[A-Za-z0-9._ -]{1,12}){0,2}$/),
    ),
    modelDir: fc.option(fc.stringMatching(/^\/[a-z0-9_ -]{1,16}$/), { nil: null }),
    use8bit: fc.boolean(),
    tensorParallelSize: fc.integer({ min: 1, max: 64 }),
    pipelineParallelSize: fc.integer({ min: 1, max: 16 }),
    maxModelLen: fc.integer({ min: 1, max: 1_000_000 }),
    extraBatched: fc.integer({ min: 0, max: 1_000_000 }),
    maxNumSeqs: fc.integer({ min: 1, max: 4096 }),
    gpuMemoryUtilization: fc.integer({ min: 1, max: 100 }).map((n) => n / 100),
    promptTokensDetails: fc.boolean(),
    engine: fc.constantFrom("vllm" as const, "sim" as const),
    logLevel: fc.constantFrom(
      "trace" as const,
      "debug" as const,
      "info" as const,
      "warn" as const,
      "error" as const,
    ),
    enginePort: fc.integer({ min: 0, max: 65535 }),
    tracing: fc.option(
      fc.record({
        tracesUrl: fc.constantFrom("http://collector:4318/v1/traces", "https://otlp.example/x"),
        headers: fc.constant("x-api-key=SECRET"),
        serviceName: fc.constant("llm-runner"),
        sampler: fc.constant("parentbased_always_on" as const),
        ratio: fc.constant(1),
      }),
      { nil: null },
    ),
    sim: fc.record(
      {
        ttftMs: fc.integer({ min: 0, max: 5000 }),
        itlMs: fc.double({ min: 0, max: 100, noNaN: true }),
        loadSeconds: fc.integer({ min: 0, max: 60 }),
        crashAfter: fc.integer({ min: 0, max: 100 }),
        hangAfter: fc.integer({ min: 0, max: 100 }),
        errorRate: fc.double({ min: 0, max: 1, noNaN: true }),
        failStart: fc.constantFrom(...FATAL_REASONS),
        mode: fc.constantFrom("echo" as const, "lorem" as const),
        kvTokens: fc.integer({ min: 1, max: 10_000_000 }),
        prefillTps: fc.double({ min: 0, max: 1e6, noNaN: true }),
      },
      { requiredKeys: [] },
    ),
  })
  .map(({ extraBatched, ...c }) => ({
    ...c,
    maxNumBatchedTokens: Math.max(c.maxModelLen, c.maxNumSeqs) + extraBatched,
  }));

describe("buildVllmArgs properties", () => {
  it("round-trips: the argv parses back into the config's values", async () => {
    const defaults = await configFrom({});
    fc.assert(
      fc.property(configArb, fc.constantFrom("process" as const, "docker" as const), (partial, driver) => {
        const config: Config = { ...defaults, ...partial };
        const placement = engineFiles(config, driver);
        const { model, flags } = parseArgv(
          buildVllmArgs(config, driver, listenAddress(driver, config.enginePort)),
        );
        expect(model).toBe(placement.model);
        for (const [flag, get] of VALUE_FLAGS) expect(flags.get(flag)).toBe(get(config));
        expect(Number(flags.get("--gpu-memory-utilization"))).toBe(config.gpuMemoryUtilization);
        expect(flags.get("--host")).toBe(driver === "process" ? "127.0.0.1" : "0.0.0.0");
        expect(flags.get("--port")).toBe(String(driver === "process" ? config.enginePort : 8000));
        expect(flags.get("--quantization")).toBe(config.use8bit ? "bitsandbytes" : undefined);
        expect(flags.get("--download-dir")).toBe(
          config.modelDir === null ? undefined : driver === "process" ? config.modelDir : "/models",
        );
        const sim = config.engine === "sim" ? config.sim : {};
        expect(flags.get("--sim-itl-ms")).toBe(sim.itlMs === undefined ? undefined : String(sim.itlMs));
        expect(Number(flags.get("--sim-error-rate") ?? Number.NaN)).toEqual(sim.errorRate ?? Number.NaN);
        expect(flags.get("--sim-fail-start")).toBe(sim.failStart);
        expect(flags.get("--sim-mode")).toBe(sim.mode);
        expect(flags.get("--sim-kv-tokens")).toBe(
          sim.kvTokens === undefined ? undefined : String(sim.kvTokens),
        );
        expect(Number(flags.get("--sim-prefill-tps") ?? Number.NaN)).toEqual(sim.prefillTps ?? Number.NaN);
        expect(flags.get("--enable-prompt-tokens-details")).toBe(
          config.promptTokensDetails ? true : undefined,
        );
        expect(flags.get("--otlp-traces-endpoint")).toBe(config.tracing?.tracesUrl);
      }),
      { numRuns: 300 },
    );
  });

  it("emits no flag for ENGINE=vllm outside vllm serve's flag list, and never a secret", async () => {
    const defaults = await configFrom({});
    expect(SERVE_FLAGS.size).toBeGreaterThan(200);
    fc.assert(
      fc.property(configArb, fc.constantFrom("process" as const, "docker" as const), (partial, driver) => {
        const config: Config = {
          ...defaults,
          ...partial,
          engine: "vllm",
          hfToken: "hf_SECRET",
          authToken: "AUTH_SECRET",
        };
        const argv = buildVllmArgs(config, driver, listenAddress(driver, config.enginePort));
        for (const flag of parseArgv(argv).flags.keys()) expect(SERVE_FLAGS, flag).toContain(flag);
        expect(argv.join(" ")).not.toMatch(/SECRET|--api-key/);
      }),
      { numRuns: 300 },
    );
  });
});
