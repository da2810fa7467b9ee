// GATEWAY_WORKERS > 1: the runner's process forks that many HTTP workers (worker-main.ts) that share the port
// through Node's cluster (the primary hands each new connection to the next worker), and stays the one owner of
// the engines: it answers their slot requests (admission-host.ts), pushes the engines' state to them, writes
// their logs, merges their /metrics and sums their ledger totals for status.json. A worker that dies is
// replaced; one that keeps dying stops the runner rather than leave it without a gateway. Several models: every
// worker serves every model, each with its config, its view and its admission here (whose acquire wakes it).
import cluster, { type Worker } from "node:cluster";
import { fileURLToPath } from "node:url";
import type { Config } from "../../config/types.js";
import type { AdmissionPort } from "../../gateway/exchange/admission.js";
import type { LiveRunnerLink } from "../../livepeer/live-runner/live-runner-link.js";
import type { LiveRunnerOffers } from "../../livepeer/live-runner/live-runner-offers.js";
import type { Logger } from "../../log/logger.js";
import type { SessionTotals } from "../../pricing/ledger.js";
import type { SupervisorView } from "../../supervisor/types.js";
import { AdmissionHost, slotRequests } from "./admission-host.js";
import { enginesView, type ModelEngines } from "./engines-view.js";
import { writeWorkerLog } from "./ipc-logger.js";
import {
  dispatch,
  type EnginesView,
  forEachMessage,
  type MessageTable,
  type PrimaryToWorker,
  type WorkerInit,
  type WorkerToPrimary,
} from "./messages.js";
import { PendingReplies } from "./pending-replies.js";
import { mergeWorkerSeries } from "./worker-metrics.js";

const VIEW_EVERY_MS = 250;
const COLLECT_WAIT_MS = 1_000;
const CLOSE_WAIT_MS = 15_000;
/** More worker deaths than this within RESPAWN_WINDOW_MS and the runner stops. */
const RESPAWN_LIMIT = 5;
const RESPAWN_WINDOW_MS = 60_000;

export interface WorkerPoolOptions {
  count: number;
  config: Config;
  supervisor: SupervisorView;
  admission: AdmissionPort;
  logger: Logger;
  ledgerPath: string;
  fakeGpusFile: string | null;
  /** Called when workers keep dying: the runner should stop. */
  onFatal(reason: string): void;
  /** The worker script (default: worker-main.js beside this file, i.e. the build in dist/). */
  entry?: string;
  /** The Live Runner registration (several models: one per model), whose state and sessions the workers need. */
  liveRunner?: LiveRunnerLink | LiveRunnerOffers;
  /**
   * Several models (LLM_RUNNER_MODELS_FILE), the default first: each one's config, view and admission; `supervisor`
   * and `admission` are then every model's (the runner-wide /health, /ready, /metrics).
   */
  models?: Array<ModelEngines & { config: Config }>;
}

interface Member {
  worker: Worker;
  index: number;
  totals: SessionTotals;
  closed: boolean;
}

const ZERO: SessionTotals = { requests: 0, promptTokens: 0, completionTokens: 0, quoted: 0, usage: 0 };

export class WorkerPool {
  private readonly members = new Map<number, Member>();
  /** Totals of workers that exited (their rows are in the ledger; status.json keeps counting them). */
  private retired: SessionTotals = { ...ZERO };
  private readonly host: AdmissionHost;
  private viewTimer: NodeJS.Timeout | null = null;
  private lastView = "";
  private offEvents: (() => void) | null = null;
  private closing = false;
  private deaths: number[] = [];
  /** Each worker's own series, asked for a merged scrape (null: it did not answer in time, or exited). */
  private readonly series = new PendingReplies<unknown[] | null>();

  constructor(private readonly options: WorkerPoolOptions) {
    this.host = new AdmissionHost(
      options.admission,
      (id, message) => this.sendTo(id, message),
      (options.models ?? []).map((m) => m.admission),
    );
  }

  /** Forks the workers and resolves with the URL once every one listens; rejects (none left) if one cannot. */
  async start(): Promise<string> {
    cluster.setupPrimary({
      exec: this.options.entry ?? fileURLToPath(new URL("./worker-main.js", import.meta.url)),
      args: [],
      execArgv: [],
      silent: false,
    });
    const offSupervisor = this.options.supervisor.on((event) => {
      if (event.type !== "log") this.pushView(true);
    });
    const offLiveRunner = this.options.liveRunner?.onChange(() => this.pushView(true));
    // A model's sleep and wake are its own events (its engines stay ready): the workers see them at once.
    const offModels = (this.options.models ?? []).map((m) =>
      m.supervisor.on((event) => {
        if (event.type !== "log") this.pushView(true);
      }),
    );
    this.offEvents = () => {
      offSupervisor();
      offLiveRunner?.();
      for (const off of offModels) off();
    };
    this.viewTimer = setInterval(() => this.pushView(false), VIEW_EVERY_MS);
    this.viewTimer.unref();
    try {
      const urls = await Promise.all(Array.from({ length: this.options.count }, (_, i) => this.fork(i + 1)));
      return urls[0] as string;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Σ of every worker's session totals (status.json). */
  totals(): SessionTotals {
    const sum = { ...this.retired };
    for (const m of this.members.values()) add(sum, m.totals);
    return sum;
  }

  /** Worker pids (status, tests). */
  pids(): number[] {
    return [...this.members.values()].map((m) => m.worker.process.pid ?? 0);
  }

  /** Each worker stops listening, ends what it serves (streams get their error chunk and [DONE]) and exits. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.viewTimer) clearInterval(this.viewTimer);
    this.offEvents?.();
    const exits = [...this.members.values()].map(
      (m) =>
        new Promise<void>((resolve) => {
          if (m.worker.isDead()) return resolve();
          const timer = setTimeout(() => {
            m.worker.process.kill("SIGKILL");
            resolve();
          }, CLOSE_WAIT_MS);
          m.worker.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
          this.sendTo(m.worker.id, { type: "close" });
        }),
    );
    await Promise.all(exits);
  }

  private fork(index: number): Promise<string> {
    const worker = cluster.fork({ LLM_RUNNER_GATEWAY_WORKER: String(index) });
    const member: Member = { worker, index, totals: { ...ZERO }, closed: false };
    this.members.set(worker.id, member);
    const { logger } = this.options;
    return new Promise<string>((resolve, reject) => {
      let listening = false;
      const table = this.tableFor(member, {
        listening: (url) => {
          listening = true;
          resolve(url);
        },
        failed: (message) => reject(new Error(message)),
      });
      worker.on("message", (raw) => forEachMessage<WorkerToPrimary>(raw, (m) => dispatch(table, m)));
      worker.on("error", (err) => logger.warn({ err, worker: index }, "HTTP worker channel error"));
      worker.once("exit", (code, signal) => {
        this.members.delete(worker.id);
        this.host.dropWorker(worker.id);
        add(this.retired, member.totals);
        this.series.settleOwner(worker.id, null);
        if (!listening) {
          reject(new Error(`HTTP worker ${index} exited while starting (${signal ?? `exit code ${code}`})`));
          return;
        }
        if (this.closing || member.closed) return;
        this.respawn(index, signal ?? `exit code ${code}`);
      });
    });
  }

  /** What the primary does with each message of one worker. */
  private tableFor(
    member: Member,
    start: { listening(url: string): void; failed(message: string): void },
  ): MessageTable<WorkerToPrimary> {
    const id = member.worker.id;
    return {
      ...slotRequests(this.host, id),
      hello: () =>
        this.sendTo(id, {
          type: "init",
          init: workerInit(this.options, member.index, this.view()),
        }),
      listening: (m) => start.listening(m.url),
      "listen-failed": (m) => start.failed(m.message),
      totals: (m) => {
        member.totals = m.totals;
      },
      log: (m) => writeWorkerLog(this.options.logger, member.index, m),
      "metrics-request": (m) =>
        void this.collectMetrics().then((text) => this.sendTo(id, { type: "metrics-reply", id: m.id, text })),
      "series-reply": (m) => this.series.reply(m.id, m.json),
      "session-request": (m) => {
        // Several models: the gate of every model's registration, whose verdict names the session's model.
        const gate = this.options.liveRunner?.gate;
        const verdict = gate
          ? gate.check(m.headers)
          : Promise.resolve({ ok: false, message: "Live Runner registration is off." } as const);
        void verdict.then((v) => this.sendTo(id, { type: "session-reply", id: m.id, verdict: v }));
      },
      closed: () => {
        member.closed = true;
      },
    };
  }

  private respawn(index: number, how: string): void {
    const now = Date.now();
    this.deaths = [...this.deaths.filter((t) => now - t < RESPAWN_WINDOW_MS), now];
    const { logger } = this.options;
    if (this.deaths.length > RESPAWN_LIMIT) {
      const reason = `HTTP workers died ${this.deaths.length} times within ${RESPAWN_WINDOW_MS / 1000} s (last: worker ${index}, ${how}); stopping the runner. See the log lines before this one.`;
      logger.error({ worker: index }, reason);
      this.options.onFatal(reason);
      return;
    }
    logger.error(
      { worker: index },
      `HTTP worker ${index} exited (${how}); its requests were ended; starting a new one`,
    );
    this.fork(index).catch((err: Error) => {
      logger.error({ err, worker: index }, "the replacement HTTP worker could not start");
    });
  }

  /** Every live worker's series, merged (a worker that does not answer within a second is left out). */
  private async collectMetrics(): Promise<string> {
    const asked = [...this.members.keys()].map((worker) =>
      this.series.ask((id) => this.sendTo(worker, { type: "series-request", id }), {
        timeoutMs: COLLECT_WAIT_MS,
        onTimeout: () => null,
        owner: worker,
      }),
    );
    const got = (await Promise.all(asked)).filter((json): json is unknown[] => json !== null);
    return mergeWorkerSeries(got);
  }

  /** Sends the engines' view to every worker: at once on a supervisor event, else when it changed. */
  private pushView(force: boolean): void {
    const view = this.view();
    const text = JSON.stringify(view);
    if (!force && text === this.lastView) return;
    this.lastView = text;
    for (const id of this.members.keys()) this.sendTo(id, { type: "view", view });
  }

  private view() {
    const { supervisor, admission, liveRunner, models } = this.options;
    return enginesView(supervisor, admission, liveRunner, models);
  }

  private sendTo(id: number, message: PrimaryToWorker): void {
    const worker = this.members.get(id)?.worker;
    if (!worker?.isConnected()) return;
    worker.send(message);
  }
}

/**
 * What a new worker is given. The configs go without `models` (each model's config is sent on its own, and a models
 * list holds the configs again): plain JSON, nothing that refers back to itself.
 */
export function workerInit(
  options: Pick<WorkerPoolOptions, "config" | "ledgerPath" | "fakeGpusFile" | "models">,
  index: number,
  view: EnginesView,
): WorkerInit {
  return {
    config: { ...options.config, models: undefined },
    ...(options.models ? { models: options.models.map((m) => ({ ...m.config, models: undefined })) } : {}),
    index,
    ledgerPath: options.ledgerPath,
    fakeGpusFile: options.fakeGpusFile,
    view,
  };
}

function add(into: SessionTotals, more: SessionTotals): void {
  into.requests += more.requests;
  into.promptTokens += more.promptTokens;
  into.completionTokens += more.completionTokens;
  into.quoted += more.quoted;
  into.usage += more.usage;
}
