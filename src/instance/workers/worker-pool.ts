// GATEWAY_WORKERS > 1: the runner's process forks that many HTTP workers (worker-main.ts) that share the port
// through Node's cluster (the primary hands each new connection to the next worker), and stays the one owner of
// the engines: it answers their slot requests (admission-host.ts), pushes the engines' state to them, writes
// their logs, merges their /metrics and sums their ledger totals for status.json. A worker that dies is
// replaced; one that keeps dying stops the runner rather than leave it without a gateway.
import cluster, { type Worker } from "node:cluster";
import { fileURLToPath } from "node:url";
import type { Config } from "../../config/types.js";
import type { AdmissionPort } from "../../gateway/exchange/admission.js";
import type { LiveRunnerLink } from "../../livepeer/live-runner/live-runner-link.js";
import type { Logger } from "../../log/logger.js";
import type { SessionTotals } from "../../pricing/ledger.js";
import type { SupervisorView } from "../../supervisor/types.js";
import { AdmissionHost } from "./admission-host.js";
import { enginesView } from "./engines-view.js";
import { writeWorkerLog } from "./ipc-logger.js";
import { type FromWorker, forEachMessage, type ToWorker } from "./worker-messages.js";
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
  /** The Live Runner registration, whose state and sessions the workers' gateways need. */
  liveRunner?: LiveRunnerLink;
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
  private nextCollect = 0;
  private readonly collects = new Map<number, { want: Set<number>; got: unknown[][]; done: () => void }>();

  constructor(private readonly options: WorkerPoolOptions) {
    this.host = new AdmissionHost(options.admission, (id, message) => this.sendTo(id, message));
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
    this.offEvents = () => {
      offSupervisor();
      offLiveRunner?.();
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
          this.sendTo(m.worker.id, { t: "close" });
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
      worker.on("message", (raw) =>
        forEachMessage<FromWorker>(raw, (message) => {
          if (message.t === "hello") {
            this.sendTo(worker.id, {
              t: "init",
              init: {
                config: this.options.config,
                index,
                ledgerPath: this.options.ledgerPath,
                fakeGpusFile: this.options.fakeGpusFile,
                view: enginesView(this.options.supervisor, this.options.admission, this.options.liveRunner),
              },
            });
          } else if (message.t === "listening") {
            listening = true;
            resolve(message.url);
          } else if (message.t === "listen-failed") {
            reject(new Error(message.message));
          } else this.handle(member, message);
        }),
      );
      worker.on("error", (err) => logger.warn({ err, worker: index }, "HTTP worker channel error"));
      worker.once("exit", (code, signal) => {
        this.members.delete(worker.id);
        this.host.dropWorker(worker.id);
        add(this.retired, member.totals);
        for (const c of this.collects.values()) if (c.want.delete(worker.id) && c.want.size === 0) c.done();
        if (!listening) {
          reject(new Error(`HTTP worker ${index} exited while starting (${signal ?? `exit code ${code}`})`));
          return;
        }
        if (this.closing || member.closed) return;
        this.respawn(index, signal ?? `exit code ${code}`);
      });
    });
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

  private handle(member: Member, message: FromWorker): void {
    const id = member.worker.id;
    switch (message.t) {
      case "acquire":
        this.host.acquire(id, message.id, message.key);
        return;
      case "cancel":
        this.host.cancel(id, message.id);
        return;
      case "release":
        this.host.release(id, message.id);
        return;
      case "failed":
        this.host.failed(id, message.id);
        return;
      case "progress":
        this.host.progress(id, message.ids);
        return;
      case "backpressure":
        this.host.backpressure(id, message.held, message.resumed);
        return;
      case "totals":
        member.totals = message.totals;
        return;
      case "log":
        writeWorkerLog(this.options.logger, member.index, message);
        return;
      case "metrics-request":
        void this.collectMetrics().then((text) => this.sendTo(id, { t: "metrics", id: message.id, text }));
        return;
      case "session-check": {
        const gate = this.options.liveRunner?.gate;
        if (!gate) {
          this.sendTo(id, {
            t: "session-verdict",
            id: message.id,
            verdict: { ok: false, message: "Live Runner registration is off." },
          });
          return;
        }
        void gate
          .check(message.headers)
          .then((verdict) => this.sendTo(id, { t: "session-verdict", id: message.id, verdict }));
        return;
      }
      case "metrics-json": {
        const c = this.collects.get(message.id);
        if (c?.want.delete(id)) {
          c.got.push(message.json);
          if (c.want.size === 0) c.done();
        }
        return;
      }
      case "closed":
        member.closed = true;
        return;
      case "hello":
      case "listening":
      case "listen-failed":
        return;
    }
  }

  /** Every live worker's series, merged (a worker that does not answer within a second is left out). */
  private async collectMetrics(): Promise<string> {
    const id = ++this.nextCollect;
    const want = new Set(this.members.keys());
    const got: unknown[][] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, COLLECT_WAIT_MS);
      const collects = this.collects;
      function finish() {
        clearTimeout(timer);
        collects.delete(id);
        resolve();
      }
      this.collects.set(id, { want, got, done: finish });
      if (want.size === 0) finish();
      for (const worker of want) this.sendTo(worker, { t: "collect", id });
    });
    return mergeWorkerSeries(got);
  }

  /** Sends the engines' view to every worker: at once on a supervisor event, else when it changed. */
  private pushView(force: boolean): void {
    const view = enginesView(this.options.supervisor, this.options.admission, this.options.liveRunner);
    const text = JSON.stringify(view);
    if (!force && text === this.lastView) return;
    this.lastView = text;
    for (const id of this.members.keys()) this.sendTo(id, { t: "view", view });
  }

  private sendTo(id: number, message: ToWorker): void {
    const worker = this.members.get(id)?.worker;
    if (!worker?.isConnected()) return;
    worker.send(message);
  }
}

function add(into: SessionTotals, more: SessionTotals): void {
  into.requests += more.requests;
  into.promptTokens += more.promptTokens;
  into.completionTokens += more.completionTokens;
  into.quoted += more.quoted;
  into.usage += more.usage;
}
