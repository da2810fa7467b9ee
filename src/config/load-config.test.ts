import path from "node:path";
import { describe, expect, it } from "vitest";
import { ENV_NAMES, SECRET_VARIABLES } from "./env-schema.js";
import { estimateKvFit } from "./kv-cache-fit.js";
import { readModelFacts } from "./model-info.js";
import { bad, MODELS, ok, REPO } from "./testing/load-config-kit.js";
import type { Config, ConfigIssue } from "./types.js";

describe("loadConfig defaults", () => {
  it("gives the documented defaults for an empty environment", async () => {
    const { config } = await ok({});
    const expected: Config = {
      modelId: "meta-llama/Meta-Llama-3.1-8B-Instruct",
      modelDir: null,
      router: "prefix",
      hfToken: null,
      hfEndpoint: "https://huggingface.co",
      pullConcurrency: 8,
      use8bit: false,
      pipelineParallelSize: 1,
      tensorParallelSize: 1,
      maxModelLen: 8192,
      maxNumBatchedTokens: 8192,
      maxNumSeqs: 128,
      gpuMemoryUtilization: 0.97,
      promptTokensDetails: false,
      host: "0.0.0.0",
      port: 8000,
      authToken: null,
      queueSize: 256,
      maxBodyBytes: 1048576,
      runnerVersion: "0.14.1",
      // No AUTH_TOKEN: no browser origin may call the runner (README "Security").
      corsOrigins: [],
      gatewayWorkers: 1,
      liveRunner: {
        orchestratorUrl: null,
        secret: null,
        url: null,
        mode: "single-shot",
        priceUsdPerHour: null,
        label: null,
        app: "meta-llama/Meta-Llama-3.1-8B-Instruct",
        tlsInsecure: false,
      },
      modelsFile: null,
      modelIdleSleepMs: 300_000,
      modelWakeTimeoutMs: 60_000,
      allowedHosts: [],
      maxConnections: 2048,
      metricsAuth: false,
      engine: "vllm",
      driver: "docker",
      engineImage: "localhost/llm-runner-vllm:0.1.0",
      gpuIds: "all",
      enginePort: 8100,
      python: "python3",
      engineStallTimeoutMs: 300_000,
      engineHangTimeoutMs: 60_000,
      clientWriteTimeoutMs: 60_000,
      engineCanaryIntervalMs: 60_000,
      engineCanaryTimeoutMs: 30_000,
      engineHealthyResetMs: 600_000,
      engineCrashLoopLimit: 5,
      drainTimeoutMs: 30_000,
      stopGraceMs: 10_000,
      pricePerUnit: 0.08,
      pixelsPerUnit: 1_000_000,
      currency: "USD",
      home: "/home/operator/.llm-runner",
      logLevel: "info",
      tracing: null,
      sim: {},
    };
    expect(config).toEqual(expected);
  });

  it("defaults CORS_ORIGINS to any origin when AUTH_TOKEN is set (a page cannot send the token unasked)", async () => {
    expect((await ok({ AUTH_TOKEN: "t0ken" })).config.corsOrigins).toBe("*");
    expect((await ok({ AUTH_TOKEN: "t0ken", CORS_ORIGINS: "" })).config.corsOrigins).toEqual([]);
    expect((await ok({ CORS_ORIGINS: "*" })).config.corsOrigins).toBe("*");
  });

  it("takes METRICS_AUTH=true with an AUTH_TOKEN to check it against", async () => {
    expect((await ok({ AUTH_TOKEN: "t0ken", METRICS_AUTH: "TRUE" })).config.metricsAuth).toBe(true);
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
  ["ENABLE_PROMPT_TOKENS_DETAILS", "TRUE", "promptTokensDetails", true],
  ["ROUTER", "least-in-flight", "router", "least-in-flight"],
  ["ROUTER", " Round-Robin ", "router", "round-robin"],
  ["ENABLE_PROMPT_TOKENS_DETAILS", "false", "promptTokensDetails", false],
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
  ["PULL_CONCURRENCY", "16", "pullConcurrency", 16],
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
  ["ALLOWED_HOSTS", "Runner.LAN, gpu-node-1.", "allowedHosts", ["runner.lan", "gpu-node-1"]],
  ["ALLOWED_HOSTS", "", "allowedHosts", []],
  ["MAX_CONNECTIONS", "4096", "maxConnections", 4096],
  ["METRICS_AUTH", "False", "metricsAuth", false],
  ["GATEWAY_WORKERS", "3", "gatewayWorkers", 3],
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
  ["CLIENT_WRITE_TIMEOUT", "0", "clientWriteTimeoutMs", 0],
  ["LLM_RUNNER_MODELS_FILE", "/etc/llm-runner/models.json", "modelsFile", "/etc/llm-runner/models.json"],
  ["MODEL_IDLE_SLEEP", "0", "modelIdleSleepMs", 0],
  ["MODEL_IDLE_SLEEP", "90", "modelIdleSleepMs", 90_000],
  ["MODEL_WAKE_TIMEOUT", "2.5", "modelWakeTimeoutMs", 2500],
  ["CLIENT_WRITE_TIMEOUT", "2.5", "clientWriteTimeoutMs", 2500],
  ["ENGINE_CANARY_INTERVAL", "0", "engineCanaryIntervalMs", 0],
  ["ENGINE_CANARY_INTERVAL", "2.5", "engineCanaryIntervalMs", 2500],
  ["ENGINE_CANARY_TIMEOUT", "5", "engineCanaryTimeoutMs", 5000],
  ["ENGINE_HEALTHY_RESET", "15", "engineHealthyResetMs", 15_000],
  ["ENGINE_CRASH_LOOP_LIMIT", "3", "engineCrashLoopLimit", 3],
  ["DRAIN_TIMEOUT", "0", "drainTimeoutMs", 0],
  ["ENGINE_STOP_GRACE", "2.5", "stopGraceMs", 2500],
  ["PRICE_PER_UNIT", "0", "pricePerUnit", 0],
  ["PRICE_PER_UNIT", "1.25", "pricePerUnit", 1.25],
  ["PIXELS_PER_UNIT", "1", "pixelsPerUnit", 1],
  ["CURRENCY", "wei", "currency", "wei"],
  ["LLM_RUNNER_HOME", "~", "home", "/home/operator"],
  ["LLM_RUNNER_HOME", "state", "home", `${REPO}/state`],
  ["LOG_LEVEL", "DEBUG", "logLevel", "debug"],
  // OpenTelemetry: tracing is on with an endpoint; an empty value reads as unset (the SDK environment spec).
  ["OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318", "tracing", tracing()],
  ["OTEL_EXPORTER_OTLP_ENDPOINT", "", "tracing", null],
  [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "https://otlp.example/custom/traces",
    "tracing",
    tracing({ tracesUrl: "https://otlp.example/custom/traces" }),
  ],
  ["OTEL_EXPORTER_OTLP_HEADERS", "x-key=abc", "tracing", null],
  ["OTEL_SERVICE_NAME", "gpu-node-7", "tracing", null],
  ["OTEL_TRACES_SAMPLER", "TraceIdRatio", "tracing", null],
  ["OTEL_TRACES_SAMPLER_ARG", "0.01", "tracing", null],
];

function tracing(over: Partial<NonNullable<Config["tracing"]>> = {}): Config["tracing"] {
  return {
    tracesUrl: "http://collector:4318/v1/traces",
    headers: null,
    serviceName: "llm-runner",
    sampler: "parentbased_always_on",
    ratio: 1,
    ...over,
  };
}

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
      SIM_KV_TOKENS: "65536",
      SIM_PREFILL_TPS: "20000",
      SIM_SLEEP_SECONDS: "0.5",
      SIM_WAKE_SECONDS: "0",
      SIM_WEIGHTS_GIB: "15.5",
      SIM_WAKE_FAIL: "2",
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
      kvTokens: 65536,
      prefillTps: 20000,
      sleepSeconds: 0.5,
      wakeSeconds: 0,
      weightsGib: 15.5,
      wakeFail: 2,
    });
  });
});

describe("the simulator's KV cache size", () => {
  const llama8b = path.join(MODELS, "Meta-Llama-3.1-8B-Instruct");

  it("is vLLM's KV-fit estimate on an H100 80GB when the model's config.json is on disk", async () => {
    const { config } = await ok({ ENGINE: "sim", MODEL_ID: llama8b });
    const fit = estimateKvFit({
      facts: readModelFacts(path.join(llama8b, "config.json")),
      gpuTotalBytes: 81_559 * 1024 ** 2,
      gpuMemoryUtilization: 0.97,
      tensorParallelSize: 1,
      pipelineParallelSize: 1,
      use8bit: false,
      maxNumBatchedTokens: 8192,
    });
    expect(config.sim.kvTokens).toBe(fit?.tokens);
    // 8 KV heads × 128 × 32 layers × 2 × 2 bytes = 128 KiB a token; ~60 GiB left after 15 GiB of weights.
    expect(config.sim.kvTokens).toBeGreaterThan(400_000);
    expect(config.sim.kvTokens).toBeLessThan(550_000);
  });

  it("is SIM_KV_TOKENS when set", async () => {
    const { config } = await ok({
      ENGINE: "sim",
      MODEL_ID: llama8b,
      SIM_KV_TOKENS: "4096",
      MAX_MODEL_LEN: "4096",
    });
    expect(config.sim.kvTokens).toBe(4096);
  });

  it("is left to the simulator (MAX_MODEL_LEN × MAX_NUM_SEQS) without the model's config.json or when it would not fit", async () => {
    expect((await ok({ ENGINE: "sim", MODEL_ID: "org/not-downloaded" })).config.sim.kvTokens).toBeUndefined();
    // 140 GiB of weights do not fit one H100.
    const big = path.join(MODELS, "Meta-Llama-3.1-70B-Instruct");
    expect((await ok({ ENGINE: "sim", MODEL_ID: big })).config.sim.kvTokens).toBeUndefined();
    expect((await ok({ MODEL_ID: llama8b })).config.sim.kvTokens).toBeUndefined();
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
  ["ENABLE_PROMPT_TOKENS_DETAILS", "on", '"true" or "false"'],
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
  ["PULL_CONCURRENCY", "0", "from 1 to 64"],
  ["QUEUE_SIZE", "-5", "must not be negative"],
  ["MAX_BODY_BYTES", "1MB", "not a whole number"],
  ["RUNNER_VERSION", "v0.14.1", "must be a semantic version MAJOR.MINOR.PATCH"],
  ["RUNNER_VERSION", "0.14", "must be a semantic version MAJOR.MINOR.PATCH"],
  ["CORS_ORIGINS", "https://app.example.com/", "not an origin"],
  ["CORS_ORIGINS", "*,https://a.example", 'mixes "*"'],
  ["ALLOWED_HOSTS", "*", "DNS-rebinding"],
  ["ALLOWED_HOSTS", "http://runner.lan", "without scheme, port or path"],
  ["ALLOWED_HOSTS", "runner.lan:8000", "without scheme, port or path"],
  ["ALLOWED_HOSTS", "bad name", "not a host name"],
  ["MAX_CONNECTIONS", "0", "≥ 1"],
  ["METRICS_AUTH", "yes", '"true" or "false"'],
  ["METRICS_AUTH", "true", "AUTH_TOKEN is not set"],
  ["ENGINE", "tgi", "one of: vllm, sim"],
  ["DRIVER", "podman", "one of: docker, process"],
  ["ENGINE_IMAGE", "", "is empty"],
  ["GPU_IDS", "", "is empty"],
  ["GPU_IDS", "0-3", "not a list of GPU indexes"],
  ["GPU_IDS", "1,1", "lists GPU 1 twice"],
  ["ENGINE_PORT", "65536", "from 0 to 65535"],
  ["ENGINE_PORT", "8000", "same as PORT"],
  ["REPLICAS", "0", "from 1 to 64"],
  ["ROUTER", "random", "one of: prefix, least-in-flight, round-robin"],
  ["DISTRIBUTED_EXECUTOR", "threads", "one of: mp, ray"],
  ["RAY_ADDRESS", "", "is empty"],
  ["REPLICAS", "two", 'or "auto"'],
  ["GATEWAY_WORKERS", "0", "from 1 to 32"],
  ["GATEWAY_WORKERS", "many", 'or "auto" for one per core but one'],
  ["REPLICAS", "2", "GPUs are not known"],
  ["PYTHON", "", "is empty"],
  ["ENGINE_STALL_TIMEOUT", "0", "> 0"],
  ["ENGINE_HANG_TIMEOUT", "5m", "not a decimal number"],
  ["CLIENT_WRITE_TIMEOUT", "30s", "not a decimal number"],
  ["MODEL_IDLE_SLEEP", "-1", "must not be negative"],
  ["MODEL_WAKE_TIMEOUT", "0", "must be > 0"],
  ["MODEL_WAKE_TIMEOUT", "soon", "not a decimal number"],
  ["CLIENT_WRITE_TIMEOUT", "-1", "must not be negative"],
  ["CLIENT_WRITE_TIMEOUT", "100000", "≤ 86400"],
  ["ENGINE_CANARY_INTERVAL", "-1", "must not be negative"],
  ["ENGINE_CANARY_INTERVAL", "100000", "≤ 86400"],
  ["ENGINE_CANARY_TIMEOUT", "0", "> 0"],
  ["ENGINE_HEALTHY_RESET", "10m", "not a decimal number"],
  ["ENGINE_CRASH_LOOP_LIMIT", "0", "must be from 1 to 100"],
  ["DRAIN_TIMEOUT", "-1", "must not be negative"],
  ["PRICE_PER_UNIT", "$0.08", "not a decimal number"],
  ["PIXELS_PER_UNIT", "0", "≥ 1"],
  ["CURRENCY", "US$", "letters only"],
  ["LLM_RUNNER_HOME", "", "is empty"],
  ["LOG_LEVEL", "verbose", "one of: trace, debug, info, warn, error"],
  ["LIVE_RUNNER_ORCH_URL", "ftp://orch.example", "must be an http(s) URL"],
  ["LIVE_RUNNER_ORCH_URL", "orchestrator", "is not a URL"],
  ["LIVE_RUNNER_SECRET", "two words", "must not contain spaces"],
  ["LIVE_RUNNER_URL", "http://10.0.0.5:8000/?x=1", "must not have a query"],
  ["LIVE_RUNNER_MODE", "batch", 'must be "single-shot"'],
  ["LIVE_RUNNER_PRICE_USD_PER_HOUR", "-1", "must not be negative"],
  ["LIVE_RUNNER_PRICE_USD_PER_HOUR", "0", '> 0 USD per hour per session slot; or "auto"'],
  ["LIVE_RUNNER_LABEL", " gpu-1", "must not start or end with spaces"],
  ["LIVE_RUNNER_APP", "", "is empty"],
  ["LIVE_RUNNER_TLS_INSECURE", "yes", '"true" or "false"'],
  ["SIM_TTFT_MS", "fast", "not a decimal number"],
  ["SIM_ERROR_RATE", "2", "≤ 1"],
  ["SIM_CRASH_AFTER", "1.5", "not a fraction"],
  ["SIM_FAIL_START", "meltdown", "one of: cuda_oom"],
  ["SIM_MODE", "poem", "one of: echo, lorem"],
  ["SIM_KV_TOKENS", "0", "≥ 1"],
  ["SIM_KV_TOKENS", "64k", 'suffixes like "k"'],
  ["SIM_PREFILL_TPS", "-1", "must not be negative"],
  ["SIM_PREFILL_TPS", "fast", "not a decimal number"],
  ["SIM_SLEEP_SECONDS", "-1", "must not be negative"],
  ["SIM_WAKE_SECONDS", "soon", "not a decimal number"],
  ["SIM_WEIGHTS_GIB", "-2", "must not be negative"],
  ["OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", "must be an http(s) URL"],
  ["OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://collector:4317", "not gRPC"],
  ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/v1/traces?x=1", "must not have a query"],
  ["OTEL_EXPORTER_OTLP_HEADERS", "x-key", 'without "="'],
  ["OTEL_EXPORTER_OTLP_HEADERS", "a=1,,b=2", "an empty entry"],
  ["OTEL_EXPORTER_OTLP_HEADERS", "bad name=1", "not an HTTP header name"],
  ["OTEL_EXPORTER_OTLP_HEADERS", "k=%zz", "not valid percent-encoding"],
  ["OTEL_SERVICE_NAME", " llm", "must not start or end with spaces"],
  ["OTEL_TRACES_SAMPLER", "jaeger_remote", "a remote sampler"],
  ["OTEL_TRACES_SAMPLER", "sometimes", "one of: always_on, always_off, traceidratio"],
  ["OTEL_TRACES_SAMPLER_ARG", "1.5", "≤ 1"],
  ["OTEL_TRACES_SAMPLER_ARG", "1%", "not a percentage"],
  ["SIM_WAKE_FAIL", "0", "≥ 1"],
  ["SIM_WAKE_FAIL", "first", "not a whole number"],
];

describe("loadConfig rejects each rule's violations", () => {
  it.each(BAD)("%s=%j", async (name, value, phrase) => {
    const issues = await bad({ [name]: value });
    expect(issues).toHaveLength(1);
    const [issue] = issues as [ConfigIssue];
    expect(issue.variable).toBe(name);
    if (!SECRET_VARIABLES.has(name)) expect(issue.value).toBe(value);
    expect(issue.message).toContain(phrase);
  });

  it("has a test row for every variable it reads", () => {
    const tested = new Set([...GOOD.map((r) => r[0]), ...BAD.map((r) => r[0])]);
    expect(ENV_NAMES.filter((n) => !tested.has(n) && !n.startsWith("SIM_"))).toEqual([]);
  });
});
