// The HTTP side of a runner: in its own process (GATEWAY_WORKERS=1), or in several worker processes that share
// the port while this process keeps the engines (http-workers/worker-pool.ts). Either way: a URL, the session's
// ledger totals for status.json, and a close that ends every request in flight cleanly.
import type { Config } from "../config/types.js";
import { createGateway } from "../gateway/create-gateway.js";
import { Admission, SummedAdmission } from "../gateway/exchange/admission.js";
import type { ServedModel } from "../gateway/gateway-deps.js";
import { serveGateway } from "../gateway/http/serve.js";
import type { GpuProbe } from "../gpu/types.js";
import type { LiveRunnerLink } from "../livepeer/live-runner/live-runner-link.js";
import type { LiveRunnerOffers } from "../livepeer/live-runner/live-runner-offers.js";
import type { Logger } from "../log/logger.js";
import { createGatewayMetrics } from "../metrics/gateway-metrics.js";
import { type SessionTotals, SqliteLedger } from "../pricing/ledger.js";
import { LedgerGuard } from "../pricing/ledger-guard.js";
import type { SupervisorView } from "../supervisor/types.js";
import type { Tracer } from "../telemetry/tracer.js";
import { WorkerPool } from "./http-workers/worker-pool.js";

export interface GatewayFront {
  readonly url: string;
  /** Σ of the rows recorded since start (served requests). */
  totals(): SessionTotals;
  /** The HTTP worker processes' pids; [] when the gateway serves in this process. */
  workerPids(): number[];
  /** Why the ledger cannot be written now, or null. */
  ledgerProblem(): string | null;
  /** Stops listening, ends what is in flight (error chunk + [DONE]), closes the ledger. */
  close(): Promise<void>;
}

export interface GatewayFrontOptions {
  config: Config;
  supervisor: SupervisorView;
  logger: Logger;
  gpus: GpuProbe;
  ledgerPath: string;
  /** LLM_RUNNER_FAKE_GPUS, for the workers' own GPU probe. */
  fakeGpusFile: string | null;
  /** The HTTP workers keep dying: the runner must stop (GATEWAY_WORKERS > 1 only). */
  onFatal(reason: string): void;
  /**
   * The Live Runner registration, when LIVE_RUNNER_ORCH_URL is set: the runner's one, or (several models) one per
   * model.
   */
  liveRunner?: LiveRunnerLink | LiveRunnerOffers;
  /** Several models (LLM_RUNNER_MODELS_FILE): each one's config and view; `supervisor` is then all of them. */
  models?: ServedModel[];
  /** Request traces when the gateway serves in this process (HTTP workers open their own). */
  tracer?: Tracer;
}

export function startGatewayFront(options: GatewayFrontOptions): Promise<GatewayFront> {
  return options.config.gatewayWorkers > 1 ? startWorkers(options) : startInProcess(options);
}

function openLedger(path: string): SqliteLedger {
  try {
    return SqliteLedger.open(path);
  } catch (err) {
    throw new Error(`the usage ledger ${path} cannot be opened: ${(err as Error).message}`);
  }
}

async function startInProcess(options: GatewayFrontOptions): Promise<GatewayFront> {
  const { config, logger } = options;
  const ledger = new LedgerGuard(openLedger(options.ledgerPath), {
    dir: config.home,
    logger: logger.child({ component: "ledger" }),
  });
  ledger.start();
  const gatewayLogger = logger.child({ component: "gateway" });
  const app = createGateway({
    config,
    supervisor: options.supervisor,
    ledger,
    metrics: createGatewayMetrics({ router: config.router }),
    gpus: options.gpus,
    logger: gatewayLogger,
    ...(options.tracer ? { tracer: options.tracer } : {}),
    ...(options.liveRunner ? { liveRunner: options.liveRunner } : {}),
    ...(options.models ? { models: options.models } : {}),
  });
  let server: Awaited<ReturnType<typeof serveGateway>>;
  try {
    server = await serveGateway(app, {
      host: config.host,
      port: config.port,
      maxConnections: config.maxConnections,
      logger: gatewayLogger,
    });
  } catch (err) {
    ledger.close();
    throw err;
  }
  return {
    url: server.url,
    totals: () => ledger.sessionTotals(),
    workerPids: () => [],
    ledgerProblem: () => ledger.unwritable(),
    close: async () => {
      await server.close();
      ledger.close();
    },
  };
}

async function startWorkers(options: GatewayFrontOptions): Promise<GatewayFront> {
  const { config, logger } = options;
  // Opened here first, so its tables exist before the workers open it together, and a bad path fails the start;
  // kept open for its guard only: whether the ledger can be written is part of what a Live Runner heartbeat says.
  const store = openLedger(options.ledgerPath);
  store.setBusyTimeout(0);
  const probe = new LedgerGuard(store, {
    dir: config.home,
    logger: logger.child({ component: "ledger" }),
    sharedWriters: true,
  });
  probe.start();
  // The one admission of the runner (several models: of each model, as the gateway in this process would have
  // it): every worker's requests count against the same slots and queue.
  const models = options.models?.map((m) => ({
    config: m.config,
    supervisor: m.supervisor,
    admission: m.admission ?? new Admission(m.supervisor, m.config.maxNumSeqs, m.config.queueSize),
  }));
  const pool = new WorkerPool({
    count: config.gatewayWorkers,
    config,
    supervisor: options.supervisor,
    admission: models
      ? new SummedAdmission(models.map((m) => m.admission))
      : new Admission(options.supervisor, config.maxNumSeqs, config.queueSize),
    logger: logger.child({ component: "workers" }),
    ledgerPath: options.ledgerPath,
    fakeGpusFile: options.fakeGpusFile,
    onFatal: options.onFatal,
    ...(options.liveRunner ? { liveRunner: options.liveRunner } : {}),
    ...(models ? { models } : {}),
  });
  let url: string;
  try {
    url = await pool.start();
  } catch (err) {
    probe.close();
    throw err;
  }
  logger.info({ workers: config.gatewayWorkers, pids: pool.pids() }, "HTTP workers listening");
  return {
    url,
    totals: () => pool.totals(),
    workerPids: () => pool.pids(),
    ledgerProblem: () => probe.unwritable(),
    close: async () => {
      await pool.close();
      probe.close();
    },
  };
}
