import type { Config } from "../config/types.js";
import type { LiveRunnerSnapshot } from "../livepeer/live-runner/live-runner-agent.js";
import type { LiveRunnerOffer } from "../livepeer/live-runner/live-runner-port.js";
import type { SessionTotals } from "../pricing/ledger.js";
import type { RunnerEngines } from "../supervisor/replica-set.js";
import { type StatusRecord, writeJsonAtomic } from "./instance-files.js";

const REFRESH_MS = 2_000;

/** Keeps status.json current for `llm-runner status`: on every state change, and every 2 s. */
export class StatusWriter {
  private timer: NodeJS.Timeout | null = null;
  private pending: NodeJS.Timeout | null = null;
  private off: (() => void) | null = null;
  private offReplicas: (() => void) | null = null;

  constructor(
    private readonly path: string,
    private readonly supervisor: RunnerEngines,
    /** Running totals since start (the ledger keeps them as rows commit: no query per refresh). */
    private readonly totals: () => SessionTotals,
    private readonly config: Config,
    /** The HTTP worker processes (GATEWAY_WORKERS > 1); none when the gateway runs in this process. */
    private readonly workers: () => number[] = () => [],
    /** The Live Runner registration, when there is one for the runner. */
    private readonly liveRunner: () => LiveRunnerSnapshot | null = () => null,
    /** Several models: each model's own registration. */
    private readonly liveRunners: () => LiveRunnerOffer[] | null = () => null,
  ) {}

  start(): void {
    this.write();
    this.off = this.supervisor.on((ev) => {
      if (ev.type === "state" || ev.type === "error" || ev.type === "sleep") this.write();
      else if (ev.type === "progress") this.writeSoon();
    });
    this.offReplicas = this.supervisor.onReplicaChange(() => this.write());
    this.timer = setInterval(() => this.write(), REFRESH_MS);
    this.timer.unref();
  }

  /** Progress events come in bursts: write at most 4 times a second for them. */
  private writeSoon(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      this.write();
    }, 250);
    this.pending.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    this.off?.();
    this.offReplicas?.();
    this.write();
  }

  write(): void {
    const totals = { ...this.totals(), currency: this.config.currency };
    const live = this.liveRunner();
    const offers = this.liveRunners();
    const record: StatusRecord = {
      updatedAt: new Date().toISOString(),
      snapshot: this.supervisor.snapshot(),
      gpus: this.config.gpuIds === "all" ? "all" : this.config.gpuIds.join(","),
      ...(this.supervisor.size > 1 ? { replicas: this.supervisor.replicas() } : {}),
      ...(this.workers().length > 0 ? { workers: this.workers() } : {}),
      ...(live ? { liveRunner: live } : {}),
      ...(offers ? { liveRunners: offers } : {}),
      ...(this.supervisor.models ? { models: this.supervisor.models() } : {}),
      totals,
    };
    try {
      writeJsonAtomic(this.path, record);
    } catch {
      // LLM_RUNNER_HOME vanished or is read-only: status is best effort, serving goes on.
    }
  }
}
