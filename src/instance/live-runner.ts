// Wires the Live Runner registration into a running instance: what each heartbeat says comes from the replicas and
// the ledger, a state change sends one at once, and a stop unregisters before the engines drain. With several
// models (LLM_RUNNER_MODELS_FILE) each model is its own registration: its app, its slots, its price, its state.
import { resolveLiveRunnerUrl } from "../config/live-runner-rules.js";
import type { Config } from "../config/types.js";
import type { GpuProbe } from "../gpu/types.js";
import { LiveRunnerLink, type LiveRunnerStart } from "../livepeer/live-runner/live-runner-link.js";
import { LiveRunnerOffers } from "../livepeer/live-runner/live-runner-offers.js";
import { HourlyPriceSource } from "../livepeer/live-runner/price-source.js";
import { runnerGpu } from "../livepeer/live-runner/runner-gpu.js";
import { modelTruth, runnerTruth } from "../livepeer/live-runner/runner-truth.js";
import { systemTimers } from "../livepeer/live-runner/timers.js";
import type { Logger } from "../log/logger.js";
import { hourlyPriceForTarget } from "../pricing/hourly-price.js";
import { SqliteLedger } from "../pricing/ledger.js";
import type { ModelSet } from "../supervisor/model-set.js";
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

/**
 * Several models with dynamic registration: one link per model, each with its model's LIVE_RUNNER_APP and price
 * (HTTP workers see them in the primary's view); null otherwise.
 */
export function createLiveRunnerOffers(config: Config, logger: Logger): LiveRunnerOffers | null {
  const live = config.liveRunner;
  if (live.orchestratorUrl === null || live.secret === null) return null;
  if (!config.modelsFile || !config.models) return null;
  const { orchestratorUrl, secret } = live;
  return new LiveRunnerOffers(
    config.models.map((m) => ({
      model: m.id,
      link: new LiveRunnerLink(
        { ...m.config.liveRunner, orchestratorUrl, secret },
        logger.child({ component: "live-runner", model: m.id }),
      ),
    })),
  );
}

export interface LiveRunnerWiring {
  /** One registration for the runner, or one per model. */
  registrations: LiveRunnerLink | LiveRunnerOffers;
  config: Config;
  /** The URL the gateway listens on (its real port, when PORT=0). */
  listenUrl: string;
  supervisor: RunnerEngines;
  /** Several models: the set whose per-model views each registration tells the truth of. */
  modelSet?: ModelSet | null;
  ledgerProblem(): string | null;
  stopping(): boolean;
  gpus: GpuProbe;
  ledgerPath: string;
  logger: Logger;
}

/** Starts registering; stop() unregisters (every model's at once) and ends the heartbeats. */
export async function startLiveRunner(w: LiveRunnerWiring): Promise<{ stop(): Promise<void> }> {
  const { config, supervisor } = w;
  const resolved = resolveLiveRunnerUrl({
    host: config.host,
    port: Number(new URL(w.listenUrl).port),
    url: config.liveRunner.url,
    orchestratorUrl: config.liveRunner.orchestratorUrl,
  });
  // loadConfig refused an unreachable address already; this only fills in the real port.
  const runnerUrl = "url" in resolved ? resolved.url : w.listenUrl;
  const prices: HourlyPriceSource[] = [];
  const offs: Array<() => void> = [];
  const links: LiveRunnerLink[] = [];
  const registrations = w.registrations;
  if (registrations instanceof LiveRunnerOffers) {
    const set = w.modelSet;
    if (!set) throw new Error("several Live Runner registrations need the model set");
    for (const { model, link } of registrations.links) {
      const entry = config.models?.find((m) => m.id === model);
      const view = set.model(model);
      if (!entry || !view) throw new Error(`no model ${model} for its Live Runner registration`);
      const truth = () => {
        const figures = view.figures();
        return modelTruth({
          model,
          engineState: view.snapshot().state,
          modelState: figures.state,
          readySlots: view.readySlots(),
          lastWakeMs: figures.lastWakeMs,
          ledgerProblem: w.ledgerProblem(),
          stopping: w.stopping(),
        });
      };
      const logger = w.logger.child({ model });
      prices.push(await startOne(link, entry.config, runnerUrl, truth, w, logger));
      // A wake or a sleep changes what its heartbeat says: sent at once.
      offs.push(view.on((event) => (event.type === "state" || event.type === "sleep") && link.notify()));
      links.push(link);
    }
  } else {
    const truth = () =>
      runnerTruth({
        state: supervisor.snapshot().state,
        readySlots: supervisor.readySlots(),
        ledgerProblem: w.ledgerProblem(),
        stopping: w.stopping(),
      });
    prices.push(await startOne(registrations, config, runnerUrl, truth, w, w.logger));
    offs.push(supervisor.on((event) => event.type === "state" && registrations.notify()));
    links.push(registrations);
  }
  offs.push(
    supervisor.onReplicaChange(() => {
      for (const l of links) l.notify();
    }),
  );
  return {
    async stop() {
      for (const off of offs) off();
      for (const price of prices) price.stop();
      await registrations.stop();
    },
  };
}

/** Starts one registration: its price (fixed, or auto from its model's ledger rows), its GPU, its heartbeats. */
async function startOne(
  link: LiveRunnerLink,
  config: Config,
  runnerUrl: string,
  truth: LiveRunnerStart["truth"],
  w: LiveRunnerWiring,
  logger: Logger,
): Promise<HourlyPriceSource> {
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
    logger.child({ component: "live-runner" }),
  );
  const priceNote = price.start();
  const gpu = await runnerGpu(w.gpus, config);
  link.start({ runnerUrl, version: VERSION, gpu, price: () => price.current(), truth });
  logger.info(
    {
      orchestrator: config.liveRunner.orchestratorUrl,
      runnerUrl,
      mode: config.liveRunner.mode,
      app: config.liveRunner.app,
    },
    `registering with the orchestrator as a Live Runner; ${priceNote}`,
  );
  return price;
}
