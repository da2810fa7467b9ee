// The typed configuration every module receives. Built once at start by `loadConfig`
// (src/config/load-config.ts) from the environment plus CLI flags; never re-read process.env elsewhere.
import type { TracingConfig } from "../telemetry/tracing-config.js";
import type { ReplicaSlot } from "./replica-plan.js";
import type { RouterPolicy } from "./router-policy.js";

export type EngineKind = "vllm" | "sim";
export type DriverKind = "docker" | "process";

/** Livepeer Live Runner registration (README "On the Livepeer network"); off while orchestratorUrl is null. */
export interface LiveRunnerConfig {
  orchestratorUrl: string | null; // LIVE_RUNNER_ORCH_URL: the orchestrator's -liveRunnerAddr (dynamic registration)
  secret: string | null; // LIVE_RUNNER_SECRET: the orchestrator's -orchSecret (secret)
  url: string | null; // LIVE_RUNNER_URL: where the orchestrator reaches this runner (null: from HOST/PORT)
  mode: "single-shot" | "persistent"; // LIVE_RUNNER_MODE
  priceUsdPerHour: number | "auto" | null; // LIVE_RUNNER_PRICE_USD_PER_HOUR per session slot (null: none sent)
  label: string | null; // LIVE_RUNNER_LABEL
  app: string; // LIVE_RUNNER_APP (default MODEL_ID)
  tlsInsecure: boolean; // LIVE_RUNNER_TLS_INSECURE: accept the orchestrator's self-signed certificate
}

export interface SimOptions {
  ttftMs?: number; // SIM_TTFT_MS -> --sim-ttft-ms
  itlMs?: number; // SIM_ITL_MS -> --sim-itl-ms
  loadSeconds?: number; // SIM_LOAD_SECONDS -> --sim-load-seconds
  crashAfter?: number; // SIM_CRASH_AFTER -> --sim-crash-after
  hangAfter?: number; // SIM_HANG_AFTER -> --sim-hang-after
  errorRate?: number; // SIM_ERROR_RATE -> --sim-error-rate
  failStart?: string; // SIM_FAIL_START -> --sim-fail-start
  mode?: "echo" | "lorem"; // SIM_MODE -> --sim-mode
  kvTokens?: number; // SIM_KV_TOKENS, else the KV-fit estimate on an H100 (sim-kv-default.ts) -> --sim-kv-tokens
  prefillTps?: number; // SIM_PREFILL_TPS -> --sim-prefill-tps
  sleepSeconds?: number; // SIM_SLEEP_SECONDS -> --sim-sleep-seconds
  wakeSeconds?: number; // SIM_WAKE_SECONDS -> --sim-wake-seconds
  weightsGib?: number; // SIM_WEIGHTS_GIB -> --sim-weights-gib
  wakeFail?: number; // SIM_WAKE_FAIL -> --sim-wake-fail (the Nth /wake_up answers vLLM's 500)
}

export interface Config {
  // Model
  modelId: string; // MODEL_ID
  modelDir: string | null; // MODEL_DIR (Hugging Face cache layout models--ORG--NAME/snapshots/REV)
  hfToken: string | null; // HF_TOKEN (secret)
  hfEndpoint?: string; // HF_ENDPOINT (loadConfig sets it; default https://huggingface.co): where `pull` downloads from
  pullConcurrency?: number; // PULL_CONCURRENCY (loadConfig sets it; default 8): connections `pull` opens at once
  /** Set by `start` once the model is in MODEL_DIR: the engine runs with HF_HUB_OFFLINE=1 and never downloads. */
  hubOffline?: boolean;

  // The seven documented tuning variables
  use8bit: boolean; // USE_8BIT
  pipelineParallelSize: number; // PIPELINE_PARALLEL_SIZE
  tensorParallelSize: number; // TENSOR_PARALLEL_SIZE
  maxModelLen: number; // MAX_MODEL_LEN
  maxNumBatchedTokens: number; // MAX_NUM_BATCHED_TOKENS
  maxNumSeqs: number; // MAX_NUM_SEQS
  gpuMemoryUtilization: number; // GPU_MEMORY_UTILIZATION
  /** ENABLE_PROMPT_TOKENS_DETAILS (loadConfig sets it; default false) -> vLLM's --enable-prompt-tokens-details. */
  promptTokensDetails?: boolean;
  /** A model of a swap group (LLM_RUNNER_MODELS_FILE): its engine runs with vLLM's --enable-sleep-mode. */
  sleepMode?: boolean;

  // Gateway
  host: string; // HOST (default 0.0.0.0)
  port: number; // PORT (default 8000)
  authToken: string | null; // AUTH_TOKEN (secret)
  queueSize: number; // QUEUE_SIZE: requests allowed to wait beyond MAX_NUM_SEQS running (default 256)
  maxBodyBytes: number; // MAX_BODY_BYTES (default 1 MiB)
  runnerVersion: string; // RUNNER_VERSION: the semver /version reports (default: AI-runner contract 0.14.1)
  corsOrigins: "*" | string[]; // CORS_ORIGINS: browser origins allowed (default "*" with AUTH_TOKEN, [] without; [] = CORS off)
  gatewayWorkers: number; // GATEWAY_WORKERS resolved: HTTP processes (default 1 = in the runner's own process)
  liveRunner: LiveRunnerConfig; // LIVE_RUNNER_*
  modelsFile?: string | null; // LLM_RUNNER_MODELS_FILE (loadConfig sets it): the models to serve (null: MODEL_ID alone)
  /** The models served: LLM_RUNNER_MODELS_FILE's, else MODEL_ID as the one dedicated model (config-source.ts). */
  models?: ModelEntry[];
  modelIdleSleepMs?: number; // MODEL_IDLE_SLEEP (loadConfig sets it) seconds an awake swap-group model may sit idle (default 300; 0 = never)
  modelWakeTimeoutMs?: number; // MODEL_WAKE_TIMEOUT (loadConfig sets it) seconds a request waits for its model to wake (default 60)
  allowedHosts: string[]; // ALLOWED_HOSTS: Host names answered on loopback without AUTH_TOKEN, besides IPs and localhost
  maxConnections: number; // MAX_CONNECTIONS: open client connections at most, shared out over the HTTP workers (default 2048)
  metricsAuth: boolean; // METRICS_AUTH: /metrics needs the bearer AUTH_TOKEN too (default false)

  // Engine
  engine: EngineKind; // ENGINE (default vllm)
  driver: DriverKind; // DRIVER (default docker)
  engineImage: string; // ENGINE_IMAGE (default depends on ENGINE)
  gpuIds: "all" | number[]; // GPU_IDS
  /** DISTRIBUTED_EXECUTOR: vLLM's --distributed-executor-backend (absent: vLLM picks). */
  distributedExecutor?: "mp" | "ray";
  /** RAY_ADDRESS: the Ray cluster the engine joins with DISTRIBUTED_EXECUTOR=ray. */
  rayAddress?: string;
  /** REPLICAS resolved: each engine's GPUs and port (set by loadConfig; absent = one engine on gpuIds/enginePort). */
  replicaSlots?: ReplicaSlot[];
  router: RouterPolicy; // ROUTER: how a request picks a replica (default prefix)
  enginePort: number; // ENGINE_PORT: the engine's port on 127.0.0.1 (default 8100; 0 = pick a free port)
  python: string; // PYTHON (process driver interpreter, default python3)
  engineStallTimeoutMs: number; // ENGINE_STALL_TIMEOUT seconds (default 300)
  engineHangTimeoutMs: number; // ENGINE_HANG_TIMEOUT seconds (default 60)
  clientWriteTimeoutMs: number; // CLIENT_WRITE_TIMEOUT seconds a stream's client may take nothing before it is closed (default 60; 0 = never)
  engineCanaryIntervalMs: number; // ENGINE_CANARY_INTERVAL seconds idle before a canary generation (default 60; 0 = off)
  engineCanaryTimeoutMs: number; // ENGINE_CANARY_TIMEOUT seconds for the canary's token (default 30)
  engineHealthyResetMs: number; // ENGINE_HEALTHY_RESET seconds ready that forget earlier crashes (default 600)
  engineCrashLoopLimit: number; // ENGINE_CRASH_LOOP_LIMIT failures in a row that end in "failed" (default 5)
  drainTimeoutMs: number; // DRAIN_TIMEOUT seconds (default 30)
  stopGraceMs: number; // ENGINE_STOP_GRACE seconds (default 10)

  // Pricing: quote = max_tokens * pricePerUnit / pixelsPerUnit
  pricePerUnit: number; // PRICE_PER_UNIT (default 0.08)
  pixelsPerUnit: number; // PIXELS_PER_UNIT (default 1_000_000)
  currency: string; // CURRENCY (default USD)

  home: string; // LLM_RUNNER_HOME (default ~/.llm-runner)
  logLevel: "trace" | "debug" | "info" | "warn" | "error"; // LOG_LEVEL
  /** OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT and the other OTEL_* variables; null: tracing off (the default). */
  tracing: TracingConfig | null;

  sim: SimOptions;
}

/** How a model of LLM_RUNNER_MODELS_FILE shares its GPUs (README "Several models"). */
export type Placement =
  | { kind: "dedicated" } // its own GPUs, always awake
  | { kind: "swap"; group: string; awake: number; sleepLevel: 1 | 2 }; // GPUs shared: at most `awake` awake

/** One model a runner serves: its own full configuration (the runner's, with its engine settings on top). */
export interface ModelEntry {
  id: string;
  config: Config;
  placement: Placement;
}

/** One problem found while loading the config; all of them are reported together. */
export interface ConfigIssue {
  variable: string; // e.g. "TENSOR_PARALLEL_SIZE" or "--port"
  value: string | undefined; // the value seen (masked for secrets)
  message: string; // the rule that was broken, and how to fix it
}
