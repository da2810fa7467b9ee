// Builds the Config once at start: the environment, overridden by CLI flags, through the env schema, then
// the rules between variables, the model's config.json and the GPUs. Every problem is collected, so the
// operator fixes them all in one go instead of one per (minutes-long) start.
import { homedir } from "node:os";
import path from "node:path";
import type { z } from "zod";
import type { GpuInfo, GpuProbe } from "../gpu/types.js";
import { isLoopbackListen } from "./allowed-hosts.js";
import { flagForEnv } from "./config-flags.js";
import { maskSecret } from "./config-issues.js";
import { crossFieldIssues, crossFieldNotes } from "./cross-field-rules.js";
import {
  DEFAULT_SIM_IMAGE,
  DEFAULT_VLLM_IMAGE,
  ENV_NAMES,
  type EnvName,
  type EnvValues,
  envSchema,
  SECRET_VARIABLES,
} from "./env-schema.js";
import { gatewayWorkersNote, resolveGatewayWorkers } from "./gateway-workers.js";
import { checkGpus } from "./gpu-checks.js";
import { httpExposureIssues, httpExposureNotes } from "./http-exposure-rules.js";
import type { KvCacheSummary } from "./kv-fit-check.js";
import { liveRunnerIssues, liveRunnerNotes } from "./live-runner-rules.js";
import { checkModel, type Finding } from "./model-checks.js";
import { isDir } from "./model-info.js";
import { tracingConfig, tracingNotes } from "./otel-env.js";
import { checkReplicaGpus } from "./replica-checks.js";
import { planReplicas, type ReplicaSlot } from "./replica-plan.js";
import { simKvTokens } from "./sim-kv-default.js";
import type { Config, ConfigIssue } from "./types.js";

export interface LoadConfigInput {
  env: NodeJS.ProcessEnv;
  /** ENV_NAME -> value from CLI flags; wins over env. */
  overrides?: Record<string, string>;
  /** When given and ENGINE=vllm, GPU count and memory are checked against what it lists. */
  gpuProbe?: GpuProbe;
  /** Base for relative paths (default: process.cwd()). */
  cwd?: string;
}

// kvCache: the KV-cache estimate, when the model's config.json and the GPUs are known (ENGINE=vllm).
export type LoadConfigResult =
  | { ok: true; config: Config; warnings: string[]; kvCache?: KvCacheSummary }
  | { ok: false; issues: ConfigIssue[]; warnings: string[]; kvCache?: KvCacheSummary };

export async function loadConfig(input: LoadConfigInput): Promise<LoadConfigResult> {
  const cwd = input.cwd ?? process.cwd();
  const home = input.env.HOME || homedir();
  const overrides = input.overrides ?? {};
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  let kvCache: KvCacheSummary | undefined;

  const known = new Set<string>(ENV_NAMES);
  for (const [name, value] of Object.entries(overrides)) {
    if (!known.has(name)) issues.push({ variable: name, value, message: "is not a configuration variable." });
  }
  const raw: Record<string, string | undefined> = {};
  for (const name of ENV_NAMES)
    raw[name] = Object.hasOwn(overrides, name) ? overrides[name] : input.env[name];
  const toIssue = (f: Finding): ConfigIssue => ({
    variable: Object.hasOwn(overrides, f.variable) ? (flagForEnv(f.variable) ?? f.variable) : f.variable,
    value: SECRET_VARIABLES.has(f.variable) ? maskSecret(raw[f.variable]) : raw[f.variable],
    message: f.message,
  });

  // Variables are parsed one by one through the schema's shape (not schema.parse) so the values that did
  // parse can still feed the cross-variable, model and GPU rules when another variable is bad.
  const shape = envSchema({ home, cwd }, isDir).shape;
  const values: Partial<Record<EnvName, unknown>> = {};
  for (const name of ENV_NAMES) {
    const result = (shape[name] as z.ZodType).safeParse(raw[name]);
    if (result.success) values[name] = result.data;
    else for (const zi of result.error.issues) issues.push(toIssue({ variable: name, message: zi.message }));
  }
  const v = values as Partial<EnvValues>;

  issues.push(...crossFieldIssues(v).map(toIssue));
  warnings.push(...crossFieldNotes(v));
  issues.push(...liveRunnerIssues(v).map(toIssue));
  warnings.push(...liveRunnerNotes(v));
  issues.push(...httpExposureIssues(v).map(toIssue));
  warnings.push(...httpExposureNotes(v));
  warnings.push(...tracingNotes(v));
  warnings.push(...misspeltVariables(input.env, known));
  const workersNote = v.GATEWAY_WORKERS === undefined ? null : gatewayWorkersNote(v.GATEWAY_WORKERS);
  if (workersNote) warnings.push(workersNote);
  if (v.AUTH_TOKEN === null && v.HOST !== undefined && !isLoopbackListen(v.HOST) && v.LIVE_RUNNER_ORCH_URL) {
    warnings.push(
      `AUTH_TOKEN is not set and HOST=${v.HOST}: only requests for sessions the orchestrator reserved are served; direct requests are refused. Set AUTH_TOKEN to serve direct traffic too.`,
    );
  } else if (v.AUTH_TOKEN === null && v.HOST !== undefined && !isLoopbackListen(v.HOST)) {
    warnings.push(
      `AUTH_TOKEN is not set and HOST=${v.HOST}: anyone who can reach port ${v.PORT ?? 8000} can spend this GPU's time. Set AUTH_TOKEN, or HOST=127.0.0.1 behind a proxy.`,
    );
  }
  if (v.ENGINE === "vllm") {
    const sims = ENV_NAMES.filter((n) => n.startsWith("SIM_") && raw[n] !== undefined);
    if (sims.length) warnings.push(`${sims.join(", ")} only apply to ENGINE=sim; ignored with ENGINE=vllm.`);
  }

  const model = checkModel({
    modelId: v.MODEL_ID,
    modelDir: v.MODEL_DIR,
    defaultHubCache: defaultHubCache(input.env, home),
    tensorParallelSize: v.TENSOR_PARALLEL_SIZE,
    pipelineParallelSize: v.PIPELINE_PARALLEL_SIZE,
    maxModelLen: v.MAX_MODEL_LEN,
    ...(v.ENGINE !== undefined ? { engine: v.ENGINE } : {}),
  });
  issues.push(...model.issues.map(toIssue));
  warnings.push(...model.warnings);

  let gpus: GpuInfo[] | null = null;
  if (v.ENGINE === "vllm" && input.gpuProbe) {
    gpus = await listGpus(input.gpuProbe, warnings);
    if (gpus && gpus.length === 0) {
      warnings.push(
        "no NVIDIA GPU found (nvidia-smi is not on PATH): GPU count and memory checks skipped. ENGINE=vllm needs a GPU to run; ENGINE=sim does not.",
      );
    }
  }
  let replicaSlots: ReplicaSlot[] | undefined;
  if (
    v.REPLICAS !== undefined &&
    v.GPU_IDS !== undefined &&
    v.ENGINE_PORT !== undefined &&
    v.ENGINE !== undefined
  ) {
    const plan = planReplicas({
      // One engine spans the Ray cluster: it is the only replica.
      replicas: v.DISTRIBUTED_EXECUTOR === "ray" ? 1 : v.REPLICAS,
      gpuIds: v.GPU_IDS,
      hostGpus: gpus?.map((g) => g.index) ?? null,
      tensorParallelSize: v.TENSOR_PARALLEL_SIZE ?? 1,
      pipelineParallelSize: v.PIPELINE_PARALLEL_SIZE ?? 1,
      enginePort: v.ENGINE_PORT,
      engine: v.ENGINE,
    });
    if (plan.ok) {
      replicaSlots = plan.slots;
      warnings.push(...plan.notes);
    } else issues.push(toIssue(plan.issue));
  }
  if (gpus && gpus.length > 0) {
    // One replica: GPU_IDS as a whole. Several: each group on its own, the findings merged (replica-checks.ts).
    const groups = replicaSlots && replicaSlots.length > 1 ? replicaSlots : null;
    const gpu = checkReplicaGpus(groups, (gpuIds) =>
      checkGpus({
        gpus: gpus as GpuInfo[],
        gpuIds: gpuIds ?? v.GPU_IDS,
        tensorParallelSize: v.TENSOR_PARALLEL_SIZE,
        pipelineParallelSize: v.PIPELINE_PARALLEL_SIZE,
        use8bit: v.USE_8BIT,
        gpuMemoryUtilization: v.GPU_MEMORY_UTILIZATION,
        maxModelLen: v.MAX_MODEL_LEN,
        maxNumSeqs: v.MAX_NUM_SEQS,
        maxNumBatchedTokens: v.MAX_NUM_BATCHED_TOKENS,
        facts: model.facts,
        distributed: v.DISTRIBUTED_EXECUTOR === "ray",
      }),
    );
    issues.push(...gpu.issues.map(toIssue));
    warnings.push(...gpu.warnings);
    kvCache = gpu.kvCache;
  }

  const kv = kvCache ? { kvCache } : {};
  if (issues.length) return { ok: false, issues, warnings, ...kv };
  const config = toConfig(v as EnvValues);
  if (config.engine === "sim" && config.sim.kvTokens === undefined) {
    const kvTokens = simKvTokens(config, model.facts);
    if (kvTokens !== undefined) config.sim.kvTokens = kvTokens;
  }
  if (replicaSlots && replicaSlots.length > 1) config.replicaSlots = replicaSlots;
  if (v.DISTRIBUTED_EXECUTOR) config.distributedExecutor = v.DISTRIBUTED_EXECUTOR;
  if (v.RAY_ADDRESS) config.rayAddress = v.RAY_ADDRESS;
  if (config.driver === "docker" && config.engine === "vllm" && config.modelDir === null) {
    // A container forgets what it downloads: mount the host's Hugging Face cache when it exists.
    const hub = defaultHubCache(input.env, home);
    if (isDir(hub)) config.modelDir = hub;
    else
      warnings.push(
        `MODEL_DIR is unset and ${hub} does not exist: the engine container will download the model into itself and again after every restart. Set MODEL_DIR to a Hugging Face cache folder.`,
      );
  }
  return { ok: true, config, warnings, ...kv };
}

async function listGpus(probe: GpuProbe, warnings: string[]): Promise<GpuInfo[] | null> {
  try {
    return await probe.list();
  } catch (err) {
    warnings.push(
      `could not read the GPUs (${err instanceof Error ? err.message : String(err)}): GPU count and memory checks skipped.`,
    );
    return null;
  }
}

/** Where vLLM (through huggingface_hub) caches models when no download dir is given. */
export function defaultHubCache(env: NodeJS.ProcessEnv, home: string): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return path.join(env.HF_HOME, "hub");
  return path.join(home, ".cache", "huggingface", "hub");
}

/** Warnings for set variables one or two typos away from ours (TENSOR_PARALELL_SIZE), which would be ignored. */
function misspeltVariables(env: NodeJS.ProcessEnv, known: Set<string>): string[] {
  const out: string[] = [];
  for (const name of Object.keys(env)) {
    if (known.has(name) || name.length < 6) continue;
    const near = [...known].find((k) => k.length >= 7 && editDistance(name, k) <= 2);
    if (near) out.push(`${name} is not a variable llm-runner reads (ignored); did you mean ${near}?`);
  }
  return out;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

function toConfig(v: EnvValues): Config {
  const sim: Config["sim"] = {};
  if (v.SIM_TTFT_MS !== undefined) sim.ttftMs = v.SIM_TTFT_MS;
  if (v.SIM_ITL_MS !== undefined) sim.itlMs = v.SIM_ITL_MS;
  if (v.SIM_LOAD_SECONDS !== undefined) sim.loadSeconds = v.SIM_LOAD_SECONDS;
  if (v.SIM_CRASH_AFTER !== undefined) sim.crashAfter = v.SIM_CRASH_AFTER;
  if (v.SIM_HANG_AFTER !== undefined) sim.hangAfter = v.SIM_HANG_AFTER;
  if (v.SIM_ERROR_RATE !== undefined) sim.errorRate = v.SIM_ERROR_RATE;
  if (v.SIM_FAIL_START !== undefined) sim.failStart = v.SIM_FAIL_START;
  if (v.SIM_MODE !== undefined) sim.mode = v.SIM_MODE;
  if (v.SIM_KV_TOKENS !== undefined) sim.kvTokens = v.SIM_KV_TOKENS;
  if (v.SIM_PREFILL_TPS !== undefined) sim.prefillTps = v.SIM_PREFILL_TPS;
  if (v.SIM_SLEEP_SECONDS !== undefined) sim.sleepSeconds = v.SIM_SLEEP_SECONDS;
  if (v.SIM_WAKE_SECONDS !== undefined) sim.wakeSeconds = v.SIM_WAKE_SECONDS;
  if (v.SIM_WEIGHTS_GIB !== undefined) sim.weightsGib = v.SIM_WEIGHTS_GIB;
  if (v.SIM_WAKE_FAIL !== undefined) sim.wakeFail = v.SIM_WAKE_FAIL;
  return {
    modelId: v.MODEL_ID,
    modelDir: v.MODEL_DIR,
    hfToken: v.HF_TOKEN,
    hfEndpoint: v.HF_ENDPOINT,
    pullConcurrency: v.PULL_CONCURRENCY,
    use8bit: v.USE_8BIT,
    pipelineParallelSize: v.PIPELINE_PARALLEL_SIZE,
    tensorParallelSize: v.TENSOR_PARALLEL_SIZE,
    maxModelLen: v.MAX_MODEL_LEN,
    maxNumBatchedTokens: v.MAX_NUM_BATCHED_TOKENS,
    maxNumSeqs: v.MAX_NUM_SEQS,
    gpuMemoryUtilization: v.GPU_MEMORY_UTILIZATION,
    promptTokensDetails: v.ENABLE_PROMPT_TOKENS_DETAILS,
    host: v.HOST,
    port: v.PORT,
    authToken: v.AUTH_TOKEN,
    queueSize: v.QUEUE_SIZE,
    maxBodyBytes: v.MAX_BODY_BYTES,
    runnerVersion: v.RUNNER_VERSION,
    corsOrigins: v.CORS_ORIGINS ?? (v.AUTH_TOKEN === null ? [] : "*"),
    gatewayWorkers: resolveGatewayWorkers(v.GATEWAY_WORKERS),
    modelsFile: v.LLM_RUNNER_MODELS_FILE,
    modelIdleSleepMs: v.MODEL_IDLE_SLEEP,
    modelWakeTimeoutMs: v.MODEL_WAKE_TIMEOUT,
    router: v.ROUTER,
    liveRunner: {
      orchestratorUrl: v.LIVE_RUNNER_ORCH_URL,
      secret: v.LIVE_RUNNER_SECRET,
      url: v.LIVE_RUNNER_URL,
      mode: v.LIVE_RUNNER_MODE,
      priceUsdPerHour: v.LIVE_RUNNER_PRICE_USD_PER_HOUR,
      label: v.LIVE_RUNNER_LABEL,
      app: v.LIVE_RUNNER_APP ?? v.MODEL_ID,
      tlsInsecure: v.LIVE_RUNNER_TLS_INSECURE,
    },
    allowedHosts: v.ALLOWED_HOSTS,
    maxConnections: v.MAX_CONNECTIONS,
    metricsAuth: v.METRICS_AUTH,
    engine: v.ENGINE,
    driver: v.DRIVER,
    engineImage: v.ENGINE_IMAGE ?? (v.ENGINE === "sim" ? DEFAULT_SIM_IMAGE : DEFAULT_VLLM_IMAGE),
    gpuIds: v.GPU_IDS,
    enginePort: v.ENGINE_PORT,
    python: v.PYTHON,
    engineStallTimeoutMs: v.ENGINE_STALL_TIMEOUT,
    engineHangTimeoutMs: v.ENGINE_HANG_TIMEOUT,
    clientWriteTimeoutMs: v.CLIENT_WRITE_TIMEOUT,
    engineCanaryIntervalMs: v.ENGINE_CANARY_INTERVAL,
    engineCanaryTimeoutMs: v.ENGINE_CANARY_TIMEOUT,
    engineHealthyResetMs: v.ENGINE_HEALTHY_RESET,
    engineCrashLoopLimit: v.ENGINE_CRASH_LOOP_LIMIT,
    drainTimeoutMs: v.DRAIN_TIMEOUT,
    stopGraceMs: v.ENGINE_STOP_GRACE,
    pricePerUnit: v.PRICE_PER_UNIT,
    pixelsPerUnit: v.PIXELS_PER_UNIT,
    currency: v.CURRENCY,
    home: v.LLM_RUNNER_HOME as string,
    logLevel: v.LOG_LEVEL,
    tracing: tracingConfig(v),
    sim,
  };
}
