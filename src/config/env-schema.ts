// The environment contract: one zod schema, one entry per variable. Each entry turns the raw string (or its
// absence) into a typed value, or records the rule that was broken and how to fix it. Cross-variable rules
// live in cross-field-rules.ts; model- and GPU-aware rules in model-checks.ts and gpu-checks.ts; the value checks
// in env-checks.ts.
import path from "node:path";
import { z } from "zod";
import { FATAL_REASONS } from "../protocol/lifecycle.js";
import type { CorsOrigins } from "./cors-origins.js";
import {
  AI_RUNNER_CONTRACT_VERSION,
  allowedHosts,
  authToken,
  baseUrl,
  boolean,
  corsOrigins,
  currency,
  decimal,
  folder,
  gatewayWorkers,
  gpuIds,
  hfToken,
  hubEndpoint,
  integer,
  type LiveRunnerMode,
  LOG_LEVELS,
  liveRunnerMode,
  liveRunnerSecret,
  modelId,
  oneOf,
  replicas,
  type SchemaContext,
  SIM_MODES,
  seconds,
  semver,
  trimmedText,
  usdPerHour,
  variable,
  word,
} from "./env-checks.js";
import { MAX_GATEWAY_WORKERS } from "./gateway-workers.js";
import { emptyIsUnset, otlpHeaders, otlpUrl, sampler, samplerRatio, serviceName } from "./otel-env.js";
import { ROUTER_POLICIES, type RouterPolicy } from "./router-policy.js";

export {
  AI_RUNNER_CONTRACT_VERSION,
  expandPath,
  isLocalModelId,
  LIVE_RUNNER_MODES,
  type LiveRunnerMode,
  type SchemaContext,
} from "./env-checks.js";

/** The highest REPLICAS accepted (a sanity bound: ports and processes, not GPUs). */
export const MAX_REPLICAS = 64;

export const DEFAULT_MODEL_ID = "meta-llama/Meta-Llama-3.1-8B-Instruct";
export const DEFAULT_VLLM_IMAGE = "localhost/llm-runner-vllm:0.1.0";
export const DEFAULT_SIM_IMAGE = "localhost/llm-runner-sim:latest";

/**
 * The schema over the environment. Each key is an environment variable; CLI flags arrive as the same keys.
 * `isDir` is passed in so MODEL_ID can be told apart from a repo id the way vLLM does (an existing folder wins).
 */
export function envSchema(ctx: SchemaContext, isDir: (p: string) => boolean) {
  return z.object({
    MODEL_ID: variable(modelId(ctx, isDir), DEFAULT_MODEL_ID),
    MODEL_DIR: variable(folder(ctx, "a Hugging Face cache folder", true), null),
    HF_TOKEN: variable(hfToken, null),
    HF_ENDPOINT: variable(hubEndpoint, "https://huggingface.co"),
    // huggingface_hub's snapshot_download uses 8 workers (max_workers=8).
    PULL_CONCURRENCY: variable(integer({ min: 1, max: 64, example: 8, unit: "of connections" }), 8),

    USE_8BIT: variable(boolean, false),
    PIPELINE_PARALLEL_SIZE: variable(integer({ min: 1, max: 1024, example: 2 }), 1),
    TENSOR_PARALLEL_SIZE: variable(integer({ min: 1, max: 1024, example: 2 }), 1),
    MAX_MODEL_LEN: variable(integer({ min: 1, example: 8192, unit: "of tokens" }), 8192),
    MAX_NUM_BATCHED_TOKENS: variable(integer({ min: 1, example: 8192, unit: "of tokens" }), 8192),
    MAX_NUM_SEQS: variable(integer({ min: 1, example: 128 }), 128),
    GPU_MEMORY_UTILIZATION: variable(
      decimal({
        min: 0,
        minExclusive: true,
        max: 1,
        example: "0.9",
        what: " (a fraction of each GPU's memory)",
      }),
      0.97,
    ),
    // vLLM's --enable-prompt-tokens-details (off by default there): usage reports the prefix cache's hits.
    ENABLE_PROMPT_TOKENS_DETAILS: variable(boolean, false),

    HOST: variable(word('an address to listen on, e.g. "0.0.0.0" or "127.0.0.1"'), "0.0.0.0"),
    PORT: variable(integer({ min: 1, max: 65535, example: 8000 }), 8000),
    AUTH_TOKEN: variable(authToken, null),
    QUEUE_SIZE: variable(integer({ min: 0, example: 256 }), 256),
    MAX_BODY_BYTES: variable(integer({ min: 1, example: 1048576, unit: "of bytes" }), 1048576),
    RUNNER_VERSION: variable(semver, AI_RUNNER_CONTRACT_VERSION),
    // Unset: "*" with AUTH_TOKEN, none without it (toConfig), so a web page cannot use a runner without auth.
    CORS_ORIGINS: variable(corsOrigins, null as CorsOrigins | null),
    GATEWAY_WORKERS: variable(gatewayWorkers(MAX_GATEWAY_WORKERS), 1 as number | "auto"),
    ALLOWED_HOSTS: variable(allowedHosts, [] as string[]),
    MAX_CONNECTIONS: variable(integer({ min: 1, example: 2048 }), 2048),
    METRICS_AUTH: variable(boolean, false),

    LLM_RUNNER_MODELS_FILE: variable(
      word('a JSON file of the models to serve, e.g. "/etc/llm-runner/models.json"'),
      null,
    ),
    MODEL_IDLE_SLEEP: variable(seconds({ min: 0, max: 604_800, example: "300" }), 300_000),
    MODEL_WAKE_TIMEOUT: variable(seconds({ min: 0, minExclusive: true, max: 3_600, example: "60" }), 60_000),

    LIVE_RUNNER_ORCH_URL: variable(baseUrl("http://10.0.0.2:8935"), null),
    LIVE_RUNNER_SECRET: variable(liveRunnerSecret, null),
    LIVE_RUNNER_URL: variable(baseUrl("http://10.0.0.5:8000"), null),
    LIVE_RUNNER_MODE: variable(liveRunnerMode, "single-shot" as LiveRunnerMode),
    LIVE_RUNNER_PRICE_USD_PER_HOUR: variable(usdPerHour, null),
    LIVE_RUNNER_LABEL: variable(trimmedText('a name for this runner, e.g. "gpu-node-1"', 128), null),
    LIVE_RUNNER_APP: variable(trimmedText("the app name clients discover, e.g. the model id", 256), null),
    LIVE_RUNNER_TLS_INSECURE: variable(boolean, false),

    ENGINE: variable(oneOf(["vllm", "sim"] as const), "vllm" as const),
    DRIVER: variable(oneOf(["docker", "process"] as const), "docker" as const),
    ENGINE_IMAGE: variable(word('an image reference, e.g. "localhost/llm-runner-vllm:0.1.0"'), null),
    GPU_IDS: variable(gpuIds, "all" as const),
    REPLICAS: variable(replicas(MAX_REPLICAS), 1 as number | "auto"),
    ROUTER: variable(oneOf(ROUTER_POLICIES), "prefix" as RouterPolicy),
    DISTRIBUTED_EXECUTOR: variable(oneOf(["mp", "ray"] as const), null),
    RAY_ADDRESS: variable(word('the Ray head\'s address, e.g. "10.0.0.1:6379"'), null),
    ENGINE_PORT: variable(integer({ min: 0, max: 65535, example: 8100 }), 8100),
    PYTHON: variable(word('a Python interpreter, e.g. "python3"'), "python3"),
    ENGINE_STALL_TIMEOUT: variable(seconds({ min: 0, minExclusive: true, example: "300" }), 300_000),
    ENGINE_HANG_TIMEOUT: variable(seconds({ min: 0, minExclusive: true, example: "60" }), 60_000),
    CLIENT_WRITE_TIMEOUT: variable(seconds({ min: 0, max: 86_400, example: "60" }), 60_000),
    ENGINE_CANARY_INTERVAL: variable(seconds({ min: 0, max: 86_400, example: "60" }), 60_000),
    ENGINE_CANARY_TIMEOUT: variable(
      seconds({ min: 0, minExclusive: true, max: 86_400, example: "30" }),
      30_000,
    ),
    ENGINE_HEALTHY_RESET: variable(
      seconds({ min: 0, minExclusive: true, max: 604_800, example: "600" }),
      600_000,
    ),
    ENGINE_CRASH_LOOP_LIMIT: variable(integer({ min: 1, max: 100, example: 5 }), 5),
    DRAIN_TIMEOUT: variable(seconds({ min: 0, example: "30" }), 30_000),
    ENGINE_STOP_GRACE: variable(seconds({ min: 0, example: "10" }), 10_000),

    PRICE_PER_UNIT: variable(decimal({ min: 0, example: "0.08" }), 0.08),
    PIXELS_PER_UNIT: variable(integer({ min: 1, example: 1000000 }), 1_000_000),
    CURRENCY: variable(currency, "USD"),

    LLM_RUNNER_HOME: variable(
      folder(ctx, "a folder for llm-runner's state", false),
      path.join(ctx.home, ".llm-runner"),
    ),
    LOG_LEVEL: variable(oneOf(LOG_LEVELS), "info" as const),

    OTEL_EXPORTER_OTLP_ENDPOINT: variable(emptyIsUnset(otlpUrl, null), null),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: variable(emptyIsUnset(otlpUrl, null), null),
    OTEL_EXPORTER_OTLP_HEADERS: variable(emptyIsUnset(otlpHeaders, null), null),
    OTEL_SERVICE_NAME: variable(emptyIsUnset(serviceName, "llm-runner"), "llm-runner"),
    OTEL_TRACES_SAMPLER: variable(
      emptyIsUnset(sampler, "parentbased_always_on" as const),
      "parentbased_always_on" as const,
    ),
    OTEL_TRACES_SAMPLER_ARG: variable(emptyIsUnset(samplerRatio, null), null),

    SIM_TTFT_MS: variable(decimal({ min: 0, example: "50", what: " milliseconds" }), undefined),
    SIM_ITL_MS: variable(decimal({ min: 0, example: "10", what: " milliseconds" }), undefined),
    SIM_LOAD_SECONDS: variable(decimal({ min: 0, example: "2", what: " seconds" }), undefined),
    SIM_CRASH_AFTER: variable(integer({ min: 0, example: 3, unit: "of requests" }), undefined),
    SIM_HANG_AFTER: variable(integer({ min: 0, example: 3, unit: "of requests" }), undefined),
    SIM_ERROR_RATE: variable(
      decimal({ min: 0, max: 1, example: "0.1", what: " (a probability)" }),
      undefined,
    ),
    SIM_FAIL_START: variable(oneOf(FATAL_REASONS), undefined),
    SIM_MODE: variable(oneOf(SIM_MODES), undefined),
    SIM_KV_TOKENS: variable(integer({ min: 1, example: 65536, unit: "of tokens" }), undefined),
    SIM_PREFILL_TPS: variable(
      decimal({ min: 0, example: "27600", what: " prompt tokens per second (0: prefill takes no time)" }),
      undefined,
    ),
    SIM_SLEEP_SECONDS: variable(decimal({ min: 0, example: "0.5", what: " seconds" }), undefined),
    SIM_WAKE_SECONDS: variable(decimal({ min: 0, example: "1", what: " seconds" }), undefined),
    SIM_WEIGHTS_GIB: variable(decimal({ min: 0, example: "15", what: " GiB" }), undefined),
    SIM_WAKE_FAIL: variable(integer({ min: 1, example: 1, unit: "of wakes" }), undefined),
  });
}

export type EnvSchema = ReturnType<typeof envSchema>;
export type EnvValues = z.output<EnvSchema>;
export type EnvName = keyof EnvValues & string;

/** Every variable the schema reads, in documentation order. */
export const ENV_NAMES = Object.keys(envSchema({ home: "/", cwd: "/" }, () => false).shape) as EnvName[];

export const SECRET_VARIABLES: ReadonlySet<string> = new Set([
  "AUTH_TOKEN",
  "HF_TOKEN",
  "LIVE_RUNNER_SECRET",
  "OTEL_EXPORTER_OTLP_HEADERS",
]);
