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
import { IpcBatcher } from "./ipc-batcher.js";
import { ipcLogger } from "./ipc-logger.js";
import { RemoteEngines } from "./remote-engines.js";
import { RemoteLiveRunner } from "./remote-live-runner.js";
import { type FromWorker, forEachMessage, type ToWorker, type WorkerInit } from "./worker-messages.js";
import { workerMetrics } from "./worker-metrics.js";

const TOTALS_EVERY_MS = 1_000;
const METRICS_WAIT_MS = 2_000;

if (!cluster.isWorker || !process.send) {
  process.stderr.write(
    "worker-main.js is started by `llm-runner start` with GATEWAY_WORKERS > 1, not by hand.\n",
  );
  process.exit(2);
}

const channel = new IpcBatcher<FromWorker>((message) => {
  if (process.connected) process.send?.(message);
});
const post = (message: FromWorker) => channel.post(message);

let started: Promise<Worker> | null = null;

process.on("message", (raw) =>
  forEachMessage<ToWorker>(raw, (message) => {
    if (message.t === "init") {
      started ??= startWorker(message.init);
      return;
    }
    if (started === null) {
      if (message.t === "close") process.exit(0); // asked to stop before it started: nothing to end
      return;
    }
    started.then((w) => w.handle(message));
  }),
);
// Ctrl-C in a terminal (and `timeout`) signal the whole process group: the runner's process decides when and
// how the workers stop (after the engines drained), so a worker does not end on its own at these signals.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => {});
post({ t: "hello" });
// The primary is gone (killed, or crashed): nothing can be admitted any more; end cleanly.
process.on("disconnect", () => {
  if (started) void started.then((w) => w.close("the runner's main process exited"));
  else process.exit(0);
});

interface Worker {
  handle(message: ToWorker): void;
  close(reason?: string): Promise<void>;
}

async function startWorker(init: WorkerInit): Promise<Worker> {
  const { config } = init;
  const logger = ipcLogger(post, config.logLevel, { component: "gateway" });
  const engines = new RemoteEngines(init.view, post);
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
      t: "listen-failed",
      message: `the usage ledger ${init.ledgerPath} cannot be opened: ${(err as Error).message}`,
    });
    channel.flush();
    process.exit(1);
  }
  ledger.start();

  let nextScrape = 0;
  const scrapes = new Map<number, (text: string) => void>();
  const local = createGatewayMetrics();
  const ownSeries = async () => `${await local.render()}\n${await renderProcessMetrics()}`;
  const metrics = workerMetrics(local, () => {
    const id = ++nextScrape;
    return new Promise<string>((resolve) => {
      const timer = setTimeout(() => {
        scrapes.delete(id);
        resolve(ownSeries()); // the primary is busy or gone: this worker's own series rather than no answer
      }, METRICS_WAIT_MS);
      scrapes.set(id, (text) => {
        clearTimeout(timer);
        scrapes.delete(id);
        resolve(text);
      });
      post({ t: "metrics-request", id });
    });
  });

  const app = createGateway({
    config,
    supervisor: engines,
    admission: engines.admission,
    ledger,
    metrics,
    gpus: gpuProbeFor(init.fakeGpusFile ?? undefined),
    logger,
    ...(liveRunner ? { liveRunner } : {}),
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
    post({ t: "listen-failed", message: (err as Error).message });
    channel.flush();
    ledger.close();
    process.exit(1);
  }
  post({ t: "listening", url: server.url });
  const totals = setInterval(() => post({ t: "totals", totals: ledger.sessionTotals() }), TOTALS_EVERY_MS);
  totals.unref();

  let closing: Promise<void> | null = null;
  const close = (reason?: string): Promise<void> => {
    closing ??= (async () => {
      if (reason) engines.disconnected(reason);
      await server.close();
      clearInterval(totals);
      ledger.close();
      post({ t: "totals", totals: ledger.sessionTotals() });
      post({ t: "closed" });
      channel.flush();
      // Let the IPC write go out before the process ends.
      setTimeout(() => process.exit(0), 100).unref();
      if (!process.connected) process.exit(0);
    })();
    return closing;
  };

  return {
    close,
    handle(message) {
      switch (message.t) {
        case "view":
          engines.setView(message.view);
          if (message.view.liveRunner) liveRunner?.setView(message.view.liveRunner);
          return;
        case "session-verdict":
          liveRunner?.verdict(message.id, message.verdict);
          return;
        case "granted":
          engines.granted(message.id, message.endpoint);
          return;
        case "refused":
          engines.refused(message.id, message.error);
          return;
        case "abort":
          engines.aborted(message.id, message.reason);
          return;
        case "collect":
          void Promise.all([local.json(), processMetricsJson()]).then(([own, proc]) =>
            post({ t: "metrics-json", id: message.id, json: [...own, ...proc] }),
          );
          return;
        case "metrics":
          scrapes.get(message.id)?.(message.text);
          return;
        case "close":
          void close();
          return;
        case "init":
          return;
      }
    },
  };
}
