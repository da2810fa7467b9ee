// The `vllm serve` command line, as a pure function of the config. The simulator takes the same flags (plus
// its --sim-* knobs), so both engines are started from this one argv. The engine's API key never appears
// here: it goes in the environment as VLLM_API_KEY, where `ps` cannot show it.
import path from "node:path";
import type { Config } from "../config/types.js";
import type { TracingConfig } from "../telemetry/tracing-config.js";
import type { ListenAddress } from "./engine-driver.js";
import { CONTAINER_MODELS_DIR, containerModelPath, type DriverKind, listenAddress } from "./engine-layout.js";

/** The model and its cache as the engine sees them (the docker driver mounts them under /models). */
export interface EngineFiles {
  model: string; // positional model argument: a repo id or a path the engine can read
  downloadDir: string | null; // --download-dir (Hugging Face cache folder)
  /** Host folder of a local model (MODEL_ID is a folder), which the docker driver mounts; null otherwise. */
  localModelPath: string | null;
}

/** loadConfig makes a local MODEL_ID absolute; a Hugging Face repo id never starts with "/". */
export function isLocalModel(config: Pick<Config, "modelId">): boolean {
  return path.isAbsolute(config.modelId);
}

export function engineFiles(config: Config, driver: DriverKind): EngineFiles {
  const local = isLocalModel(config) ? config.modelId : null;
  if (driver === "process")
    return { model: config.modelId, downloadDir: config.modelDir, localModelPath: local };
  return {
    model: local ? containerModelPath(local) : config.modelId,
    downloadDir: config.modelDir ? CONTAINER_MODELS_DIR : null,
    localModelPath: local,
  };
}

/**
 * vLLM's own drain on SIGTERM (`--shutdown-timeout`, vLLM 0.18+, vllm-project/vllm#36666): it refuses new work and
 * finishes in-flight requests for up to this many seconds (0: aborts them). One second past DRAIN_TIMEOUT, so the
 * gateway's deadline is the one that cuts leftover streams, with its own message.
 */
export function engineDrainSeconds(drainTimeoutMs: number): number {
  return drainTimeoutMs > 0 ? Math.ceil(drainTimeoutMs / 1000) + 1 : 0;
}

/** The engine's flags for this config, listening where its driver says (listen comes from the driver). */
export function buildVllmArgs(config: Config, driver: DriverKind, listen: ListenAddress): string[] {
  const placement = { ...engineFiles(config, driver), ...listen };
  const args = [
    placement.model,
    "--served-model-name",
    config.modelId,
    "--host",
    placement.host,
    "--port",
    String(placement.port),
    "--tensor-parallel-size",
    String(config.tensorParallelSize),
    "--pipeline-parallel-size",
    String(config.pipelineParallelSize),
    "--max-model-len",
    String(config.maxModelLen),
    "--max-num-batched-tokens",
    String(config.maxNumBatchedTokens),
    "--max-num-seqs",
    String(config.maxNumSeqs),
    "--gpu-memory-utilization",
    String(config.gpuMemoryUtilization),
    "--shutdown-timeout",
    String(engineDrainSeconds(config.drainTimeoutMs)),
  ];
  // Current vLLM infers --load-format from the quantization.
  if (config.use8bit) args.push("--quantization", "bitsandbytes");
  if (config.promptTokensDetails) args.push("--enable-prompt-tokens-details");
  // A model of a swap group sleeps and wakes (vLLM docs/features/sleep_mode.md); its routes need VLLM_SERVER_DEV_MODE.
  if (config.sleepMode) args.push("--enable-sleep-mode");
  if (placement.downloadDir !== null) args.push("--download-dir", placement.downloadDir);
  // vLLM's own executor over a Ray cluster (multi-node); the cluster is the operator's (RAY_ADDRESS).
  if (config.distributedExecutor) args.push("--distributed-executor-backend", config.distributedExecutor);
  // The gateway logs every request itself; the engine's access lines only repeat them, unless debugging.
  if (config.logLevel !== "debug" && config.logLevel !== "trace") args.push("--disable-uvicorn-access-log");
  // vLLM's own request spans (ObservabilityConfig.otlp_traces_endpoint), parented by the gateway's `traceparent`;
  // --collect-detailed-traces is left off: vLLM documents it as costly and it is not needed for that.
  if (config.tracing) args.push("--otlp-traces-endpoint", config.tracing.tracesUrl);
  if (config.engine === "sim") args.push(...simArgs(config.sim));
  return args;
}

function simArgs(sim: Config["sim"]): string[] {
  const out: string[] = [];
  const add = (flag: string, value: number | string | undefined) => {
    if (value !== undefined) out.push(flag, String(value));
  };
  add("--sim-ttft-ms", sim.ttftMs);
  add("--sim-itl-ms", sim.itlMs);
  add("--sim-load-seconds", sim.loadSeconds);
  add("--sim-crash-after", sim.crashAfter);
  add("--sim-hang-after", sim.hangAfter);
  add("--sim-error-rate", sim.errorRate);
  add("--sim-fail-start", sim.failStart);
  add("--sim-mode", sim.mode);
  add("--sim-kv-tokens", sim.kvTokens);
  add("--sim-prefill-tps", sim.prefillTps);
  add("--sim-sleep-seconds", sim.sleepSeconds);
  add("--sim-wake-seconds", sim.wakeSeconds);
  add("--sim-weights-gib", sim.weightsGib);
  add("--sim-wake-fail", sim.wakeFail);
  return out;
}

/**
 * The whole engine command for display (`llm-runner flags`), with the process driver's placement:
 * `vllm serve …` for ENGINE=vllm; for ENGINE=sim, the runtime's simulator that takes the same flags.
 */
export function engineCommand(config: Config): string[] {
  const args = buildVllmArgs(config, "process", listenAddress("process", config.enginePort));
  if (config.engine === "sim") return [config.python, "-m", "llm_runtime", "--engine", "sim", ...args];
  return ["vllm", "serve", ...args];
}

/**
 * The environment the engine gets besides the inherited one: its API key, the HF token, GPU numbering by PCI bus
 * (CUDA's default orders by speed; nvidia-smi, GPU_IDS and go-livepeer count by PCI bus, and the AI-runner sets
 * the same), and for the process driver the GPUs (the docker driver selects GPUs with device requests instead).
 */
export function engineEnv(
  config: Config,
  driver: "process" | "docker",
  apiKey: string,
): Record<string, string> {
  const env: Record<string, string> = { VLLM_API_KEY: apiKey, CUDA_DEVICE_ORDER: "PCI_BUS_ID" };
  if (config.hfToken) env.HF_TOKEN = config.hfToken;
  // ray.init() inside vLLM joins the cluster at RAY_ADDRESS instead of starting a local one.
  if (config.distributedExecutor === "ray" && config.rayAddress) env.RAY_ADDRESS = config.rayAddress;
  // /sleep, /wake_up and /collective_rpc exist only in dev mode; the engine listens on 127.0.0.1 only.
  if (config.sleepMode) env.VLLM_SERVER_DEV_MODE = "1";
  // The model was pulled before the engine starts: vLLM reads the cache only, so it can never stall on a download.
  // --download-dir covers only the weights; transformers reads config.json and the tokenizer from the hub cache
  // (vLLM's get_config passes no cache_dir), so point that cache at MODEL_DIR too, or offline loading fails.
  if (config.hubOffline) {
    env.HF_HUB_OFFLINE = "1";
    const cache = engineFiles(config, driver).downloadDir;
    if (cache !== null) env.HF_HUB_CACHE = cache;
  }
  if (driver === "process" && Array.isArray(config.gpuIds))
    env.CUDA_VISIBLE_DEVICES = config.gpuIds.join(",");
  if (config.tracing) Object.assign(env, engineTracingEnv(config.tracing));
  return env;
}

/**
 * How vLLM exports its spans to the same collector (vllm/tracing: get_span_exporter reads
 * OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, default "grpc"; the endpoint we give is OTLP/HTTP), under its own service
 * name, sampling as the gateway's `traceparent` says (a sampler the runner's environment names would otherwise be
 * inherited by the process driver's engine and cut traces in two).
 */
export function engineTracingEnv(tracing: TracingConfig): Record<string, string> {
  const env: Record<string, string> = {
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf",
    OTEL_SERVICE_NAME: "vllm",
    OTEL_TRACES_SAMPLER: "parentbased_always_on",
  };
  if (tracing.headers) env.OTEL_EXPORTER_OTLP_TRACES_HEADERS = tracing.headers;
  return env;
}
