import type { Config } from "../config/types.js";
import type { GpuProbe } from "../gpu/types.js";
import type { LiveRunnerPort } from "../livepeer/live-runner/live-runner-port.js";
import type { Logger } from "../log/logger.js";
import type { GatewayMetrics } from "../metrics/gateway-metrics.js";
import type { Ledger } from "../pricing/ledger-types.js";
import type { PriceRate } from "../pricing/price.js";
import type { SupervisorView } from "../supervisor/types.js";
import type { Tracer } from "../telemetry/tracer.js";
import type { AdmissionPort } from "./exchange/admission.js";
import type { ExchangeTracker } from "./exchange/exchange.js";
import type { UpstreamClient } from "./exchange/upstream-client.js";
import type { WriteTimeout } from "./relay/write-timeout.js";

/** What createGateway is given. */
export interface GatewayDeps {
  config: Config;
  supervisor: SupervisorView;
  ledger: Ledger;
  metrics: GatewayMetrics;
  gpus: GpuProbe;
  logger: Logger;
  /** Epoch milliseconds (fractions allowed); default: a sub-millisecond wall clock. */
  clock?: () => number;
  /** Default: undici pools sized above MAX_NUM_SEQS + QUEUE_SIZE. */
  upstream?: UpstreamClient;
  /** Default: an Admission over `supervisor` (MAX_NUM_SEQS per ready engine + QUEUE_SIZE). */
  admission?: AdmissionPort;
  /** The Live Runner registration (default: none, proxied sessions are not checked). */
  liveRunner?: LiveRunnerPort;
  /** Request traces (default: none, nothing of OpenTelemetry loaded). */
  tracer?: Tracer;
  /**
   * Several models (LLM_RUNNER_MODELS_FILE), the default one first: each its own config (engine settings, price),
   * engines and admission. Absent: `config` and `supervisor` are the one model. `supervisor` and `admission` are
   * then the runner-wide views (/health, /ready, /metrics).
   */
  models?: ServedModel[];
}

/** One model the gateway serves. */
export interface ServedModel {
  config: Config;
  supervisor: SupervisorView;
  /** Default: an Admission over `supervisor` with the model's MAX_NUM_SEQS and the runner's QUEUE_SIZE. */
  admission?: AdmissionPort;
}

/** The models a request may name, each with the deps its generation runs with. */
export interface ServedModels {
  /** The served model ids, the default one first. */
  readonly ids: readonly string[];
  /**
   * The deps for a request's `model`: absent or "" → the default model; null when this runner does not serve it.
   * With one model every name gets it (the engine answers an unknown name as vLLM does).
   */
  lookup(model: unknown): RouteDeps | null;
}

/** What every route receives: the deps with defaults filled in, plus the gateway's own parts. */
export interface RouteDeps extends Required<Omit<GatewayDeps, "models">> {
  admission: AdmissionPort;
  exchanges: ExchangeTracker;
  rate: PriceRate;
  /** CLIENT_WRITE_TIMEOUT: closes streaming clients that take nothing. */
  writeTimeout: WriteTimeout;
  served: ServedModels;
}
