// An HTTP worker process (GATEWAY_WORKERS > 1), forked by the runner's process through Node's cluster: it serves
// the same gateway on the shared port, with its own ledger connection (SQLite WAL takes several writers) and
// its own engine connections; slots, engine state, logs and the merged /metrics go through the primary.
import cluster from "node:cluster";
import { connectionsPerProcess } from "../../config/gateway-workers.js";
import { createGateway } from "../../gateway/create-gateway.js";
import { serveGateway } from "../../gateway/http/serve.js";
import { gpuProbeFor } from "../../gpu/probe-from-env.js";
import { createGatewayMetrics } from "../../metrics/gateway-metrics.js";
import { processMetricsJson, renderProcessMetrics } from "../../metrics/process-metrics.js";
import { SqliteLedger } from "../../pricing/ledger.js";
import { LedgerGuard } from "../../pricing/ledger-guard.js";
import { closeTracer, openTracer } from "../../telemetry/open-tracer.js";
import { IpcBatcher } from "./ipc-batcher.js";
import { ipcLogger } from "./ipc-logger.js";
import {
  dispatch,
  forEachMessage,
  type MessageTable,
  type PrimaryToWorker,
  type WorkerInit,
  type WorkerToPrimary,
} from "./messages.js";
import { PendingReplies } from "./pending-replies.js";
import { RemoteAdmission, slotReplies } from "./remote-admission.js";
import { RemoteLiveRunner } from "./remote-live-runner.js";
import { RemoteReplicas } from "./remote-replicas.js";
import { workerMetrics } from "./worker-metrics.js";

const TOTALS_EVERY_MS = 1_000;
const METRICS_WAIT_MS = 2_000;

if (!cluster.isWorker || !process.send) {
  process.stderr.write(
    "worker-main.js is started by `llm-runner start` with GATEWAY_WORKERS > 1, not by hand.\n",
  );
  process.exit(2);
}

const channel = new IpcBatcher<WorkerToPrimary>((message) => {
  if (process.connected) process.send?.(message);
});
const post = (message: WorkerToPrimary) => channel.post(message);

let started: Promise<Worker> | null = null;

// init starts the worker; every other message goes to its table once it has started (before that only a
// close means anything: nothing to end).
process.on("message", (raw) =>
  forEachMessage<PrimaryToWorker>(raw, (message) => {
    if (message.type === "init") started ??= startWorker(message.init);
    else if (started !== null) void started.then((w) => dispatch(w.table, message));
    else if (message.type === "close") process.exit(0);
  }),
);
// Ctrl-C in a terminal (and `timeout`) signal the whole process group: the runner's process decides when and
// how the workers stop (after the engines drained), so a worker does not end on its own at these signals.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => {});
post({ type: "hello" });
// The primary is gone (killed, or crashed): nothing can be admitted any more; end cleanly.
process.on("disconnect", () => {
  if (started) void started.then((w) => w.close("the runner's main process exited"));
  else process.exit(0);
});

interface Worker {
  /** What the worker does with each message of the primary but init. */
  table: MessageTable<Exclude<PrimaryToWorker, { type: "init" }>>;
  close(reason?: string): Promise<void>;
}

async function startWorker(init: WorkerInit): Promise<Worker> {
  const { config } = init;
  const logger = ipcLogger(post, config.logLevel, { component: "gateway" });
  const replicas = new RemoteReplicas(init.view);
  const admission = new RemoteAdmission(() => replicas.admission, post);
  // Several models: each its own view and admission (its slot requests name it); `replicas` is every model's.
  const models = (init.models ?? []).map((modelConfig, i) => {
    const view = init.view.models?.[i];
    if (!view) throw new Error(`the primary's view has no model ${i} (${modelConfig.modelId})`);
    const supervisor = new RemoteReplicas(view);
    return {
      config: modelConfig,
      supervisor,
      admission: admission.forModel(i, () => supervisor.admission),
    };
  });
  const liveRunner = init.view.liveRunner ? new RemoteLiveRunner(init.view.liveRunner, post) : null;
  let ledger: LedgerGuard;
  try {
    // Every worker writes the same file: no blocking busy wait (it would stall this worker's streams while
    // another worker commits); a commit that meets the lock is retried a few ms later (group-commit.ts).
    ledger = new LedgerGuard(SqliteLedger.open(init.ledgerPath, { busyTimeoutMs: 0 }), {
      dir: config.home,
      logger: ipcLogger(post, config.logLevel, { component: "ledger" }),
      sharedWriters: true,
    });
  } catch (err) {
    post({
      type: "listen-failed",
      message: `the usage ledger ${init.ledgerPath} cannot be opened: ${(err as Error).message}`,
    });
    channel.flush();
    process.exit(1);
  }
  ledger.start();

  const merged = new PendingReplies<string>();
  const local = createGatewayMetrics({ router: init.config.router });
  const ownSeries = async () => `${await local.render()}\n${await renderProcessMetrics()}`;
  const metrics = workerMetrics(local, () =>
    merged.ask((id) => post({ type: "metrics-request", id }), {
      timeoutMs: METRICS_WAIT_MS,
      onTimeout: ownSeries, // the primary is busy or gone: this worker's own series rather than no answer
    }),
  );

  // Each worker exports its own requests' spans.
  const tracer = await openTracer(config.tracing, { "llm_runner.process": "http-worker" });
  const app = createGateway({
    config,
    supervisor: replicas,
    admission,
    ledger,
    metrics,
    gpus: gpuProbeFor(init.fakeGpusFile ?? undefined),
    logger,
    tracer,
    ...(liveRunner ? { liveRunner } : {}),
    ...(models.length > 0 ? { models } : {}),
  });
  let server: Awaited<ReturnType<typeof serveGateway>>;
  try {
    server = await serveGateway(app, {
      host: config.host,
      port: config.port,
      maxConnections: connectionsPerProcess(config.maxConnections, config.gatewayWorkers),
      logger,
    });
  } catch (err) {
    post({ type: "listen-failed", message: (err as Error).message });
    channel.flush();
    ledger.close();
    process.exit(1);
  }
  post({ type: "listening", url: server.url });
  const totals = setInterval(() => post({ type: "totals", totals: ledger.sessionTotals() }), TOTALS_EVERY_MS);
  totals.unref();

  let closing: Promise<void> | null = null;
  const close = (reason?: string): Promise<void> => {
    closing ??= (async () => {
      if (reason) admission.disconnected(reason);
      await server.close();
      clearInterval(totals);
      ledger.close();
      await closeTracer(tracer, logger);
      post({ type: "totals", totals: ledger.sessionTotals() });
      post({ type: "closed" });
      channel.flush();
      // Let the IPC write go out before the process ends.
      setTimeout(() => process.exit(0), 100).unref();
      if (!process.connected) process.exit(0);
    })();
    return closing;
  };

  return {
    close,
    table: {
      ...slotReplies(admission),
      view: (m) => {
        replicas.setView(m.view);
        for (const [i, model] of models.entries()) {
          const view = m.view.models?.[i];
          if (view) model.supervisor.setView(view);
        }
        if (m.view.liveRunner) liveRunner?.setView(m.view.liveRunner);
      },
      "session-reply": (m) => liveRunner?.verdict(m.id, m.verdict),
      "series-request": (m) =>
        void Promise.all([local.json(), processMetricsJson()]).then(([own, proc]) =>
          post({ type: "series-reply", id: m.id, json: [...own, ...proc] }),
        ),
      "metrics-reply": (m) => merged.reply(m.id, m.text),
      close: () => void close(),
    },
  };
}
