// Wires the Live Runner registration into a running instance: what each heartbeat says comes from the replicas and
// the ledger, a state change sends one at once, and a stop unregisters before the engines drain.
import { resolveLiveRunnerUrl } from "../config/live-runner-rules.js";
import type { Config } from "../config/types.js";
import type { GpuProbe } from "../gpu/types.js";
import { LiveRunnerLink } from "../livepeer/live-runner/live-runner-link.js";
import { HourlyPriceSource } from "../livepeer/live-runner/price-source.js";
import { runnerGpu } from "../livepeer/live-runner/runner-gpu.js";
import { runnerTruth } from "../livepeer/live-runner/runner-truth.js";
import { systemTimers } from "../livepeer/live-runner/timers.js";
import type { Logger } from "../log/logger.js";
import { hourlyPriceForTarget } from "../pricing/hourly-price.js";
import { SqliteLedger } from "../pricing/ledger.js";
import type { RunnerEngines } from "../supervisor/replica-set.js";
import { VERSION } from "../version.js";

// The auto price looks at this much recent traffic: long enough for a sample, short enough to follow changes.
const AUTO_PRICE_WINDOW_MS = 7 * 24 * 3_600_000;

/** The link when dynamic registration is on (LIVE_RUNNER_ORCH_URL), else null. */
export function createLiveRunnerLink(config: Config, logger: Logger): LiveRunnerLink | null {
  const live = config.liveRunner;
  if (live.orchestratorUrl === null || live.secret === null) return null;
  return new LiveRunnerLink(
    { ...live, orchestratorUrl: live.orchestratorUrl, secret: live.secret },
    logger.child({ component: "live-runner" }),
  );
}

export interface LiveRunnerWiring {
  link: LiveRunnerLink;
  config: Config;
  /** The URL the gateway listens on (its real port, when PORT=0). */
  listenUrl: string;
  supervisor: RunnerEngines;
  ledgerProblem(): string | null;
  stopping(): boolean;
  gpus: GpuProbe;
  ledgerPath: string;
  logger: Logger;
}

/** Starts registering; stop() unregisters and ends the heartbeats. */
export async function startLiveRunner(w: LiveRunnerWiring): Promise<{ stop(): Promise<void> }> {
  const { config, link, supervisor } = w;
  const resolved = resolveLiveRunnerUrl({
    host: config.host,
    port: Number(new URL(w.listenUrl).port),
    url: config.liveRunner.url,
    orchestratorUrl: config.liveRunner.orchestratorUrl,
  });
  // loadConfig refused an unreachable address already; this only fills in the real port.
  const runnerUrl = "url" in resolved ? resolved.url : w.listenUrl;
  const usdPerMillion = (config.pricePerUnit / config.pixelsPerUnit) * 1_000_000;
  const price = new HourlyPriceSource(
    config.liveRunner.priceUsdPerHour,
    () => {
      const ledger = SqliteLedger.openReadOnly(w.ledgerPath);
      try {
        const since = new Date(Date.now() - AUTO_PRICE_WINDOW_MS);
        return hourlyPriceForTarget(usdPerMillion, ledger.throughput({ model: config.modelId, since }));
      } finally {
        ledger.close();
      }
    },
    systemTimers,
    w.logger.child({ component: "live-runner" }),
  );
  const priceNote = price.start();
  const gpu = await runnerGpu(w.gpus, config);
  link.start({
    runnerUrl,
    version: VERSION,
    gpu,
    price: () => price.current(),
    truth: () =>
      runnerTruth({
        state: supervisor.snapshot().state,
        readySlots: supervisor.readySlots(),
        ledgerProblem: w.ledgerProblem(),
        stopping: w.stopping(),
      }),
  });
  w.logger.info(
    {
      orchestrator: config.liveRunner.orchestratorUrl,
      runnerUrl,
      mode: config.liveRunner.mode,
      app: config.liveRunner.app,
    },
    `registering with the orchestrator as a Live Runner; ${priceNote}`,
  );
  const offEvents = supervisor.on((event) => {
    if (event.type === "state") link.notify();
  });
  const offReplicas = supervisor.onReplicaChange(() => link.notify());
  return {
    async stop() {
      offEvents();
      offReplicas();
      price.stop();
      await link.stop();
    },
  };
}
