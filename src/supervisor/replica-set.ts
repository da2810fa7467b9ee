// REPLICAS: N engines, each with its own Supervisor (driver, port, key, restarts, watchdog, canary, crash loop),
// behind one SupervisorView. The gateway sees one supervisor: admit() routes to the ready replica with the fewest
// requests in flight (ties rotate), snapshot() folds the replicas' states (replica-fold.ts). A replica that fails
// aborts only its own tickets; the others go on.
import type { EngineDriver } from "../engine/engine-driver.js";
import type { Logger } from "../log/logger.js";
import { sweepOrphans } from "./engine-output.js";
import { foldSnapshots } from "./replica-fold.js";
import { SupervisorEvents } from "./supervisor-events.js";
import type {
  EngineEndpoint,
  ReplicaView,
  RequestTicket,
  SupervisorEvent,
  SupervisorSnapshot,
  SupervisorState,
  SupervisorView,
} from "./types.js";

/** What the set needs of a replica's Supervisor (supervisor.ts, built with sweepOrphans: false). */
export interface ReplicaSupervisor extends SupervisorView {
  start(): Promise<void>;
  stop(options?: { drainTimeoutMs?: number; force?: boolean }): Promise<void>;
}

/** One replica: its index, its GPUs, and the supervisor of its engine. */
export interface Replica {
  readonly index: number;
  readonly gpuIds: "all" | number[];
  readonly supervisor: ReplicaSupervisor;
}

export type ReplicaSnapshot = ReplicaView;

export interface ReplicaSetDeps {
  /** A driver of this instance's engines, for the one orphan sweep before the start and after the stop. */
  driver: EngineDriver;
  logger: Logger;
}

export class ReplicaSet implements SupervisorView {
  private readonly events: SupervisorEvents;
  private readonly offs: Array<() => void> = [];
  private state: SupervisorState;
  /** Where the next tie-break starts, so equal replicas take turns. */
  private cursor = 0;

  constructor(
    private readonly members: readonly Replica[],
    private readonly deps: ReplicaSetDeps,
  ) {
    if (members.length === 0) throw new Error("a replica set needs at least one replica");
    this.events = new SupervisorEvents(deps.logger);
    this.state = this.snapshot().state;
    for (const member of members) {
      this.offs.push(member.supervisor.on((event) => this.forward(event)));
    }
  }

  get size(): number {
    return this.members.length;
  }

  /** Removes orphaned engines of this instance once, then starts every replica. */
  async start(): Promise<void> {
    await sweepOrphans(this.deps.driver, this.deps.logger, "start");
    await Promise.all(this.members.map((m) => m.supervisor.start()));
  }

  /** Drains and stops every replica at once, then sweeps: nothing of ours outlives a stop. */
  async stop(options: { drainTimeoutMs?: number; force?: boolean } = {}): Promise<void> {
    await Promise.all(this.members.map((m) => m.supervisor.stop(options)));
    await sweepOrphans(this.deps.driver, this.deps.logger, "stop");
  }

  snapshot(): SupervisorSnapshot {
    return foldSnapshots(this.members.map((m) => m.supervisor.snapshot()));
  }

  /** Each replica's own snapshot, for status and /metrics. */
  replicas(): ReplicaSnapshot[] {
    return this.members.map((m) => ({
      ...m.supervisor.snapshot(),
      replica: m.index,
      gpus: m.gpuIds === "all" ? "all" : m.gpuIds.join(","),
    }));
  }

  /** The ready replica with the fewest requests in flight (ties: the next one after the last chosen). */
  admit(): RequestTicket | null {
    const n = this.members.length;
    let best: { at: number; inFlight: number } | null = null;
    for (let k = 0; k < n; k++) {
      const at = (this.cursor + k) % n;
      const snap = (this.members[at] as Replica).supervisor.snapshot();
      if (snap.state !== "ready") continue;
      if (best === null || snap.inFlight < best.inFlight) best = { at, inFlight: snap.inFlight };
    }
    if (best === null) return null;
    const ticket = (this.members[best.at] as Replica).supervisor.admit();
    if (ticket !== null) this.cursor = (best.at + 1) % n;
    return ticket;
  }

  replicaSnapshots(): ReplicaView[] {
    return this.members.length > 1 ? this.replicas() : [];
  }

  readyEngines(): number {
    return this.members.filter((m) => m.supervisor.snapshot().state === "ready").length;
  }

  /** A ready (else draining) replica's engine, for side calls such as the metrics scrape. */
  engineEndpoint(): EngineEndpoint | null {
    let draining: EngineEndpoint | null = null;
    for (const m of this.members) {
      const endpoint = m.supervisor.engineEndpoint();
      if (endpoint === null) continue;
      if (m.supervisor.snapshot().state === "ready") return endpoint;
      draining ??= endpoint;
    }
    return draining;
  }

  on(listener: (event: SupervisorEvent) => void): () => void {
    return this.events.on(listener);
  }

  /** Resolves when the folded state reaches one of the states (or rejects on timeout). */
  waitFor(states: SupervisorState[], timeoutMs: number): Promise<SupervisorSnapshot> {
    if (states.includes(this.state)) return Promise.resolve(this.snapshot());
    return this.events.waitFor(states, timeoutMs, () => this.state);
  }

  /** Log, progress and error events pass through; state events are the folded state's changes. */
  private forward(event: SupervisorEvent): void {
    if (event.type !== "state") {
      this.events.emit(event);
      return;
    }
    const snapshot = this.snapshot();
    const from = this.state;
    if (snapshot.state === from) return;
    this.state = snapshot.state;
    this.events.emit({ type: "state", from, to: snapshot.state, snapshot });
  }
}
