// REPLICAS: N engines, each with its own Supervisor, behind one SupervisorView: admit()/acquire() route to a ready
// replica by the ROUTER policy (routing/route-picker.ts; acquire() queues beyond the free slots, replica-router.ts),
// snapshot() folds their states (replica-fold.ts). A replica that fails aborts only its own tickets.
import type { EngineDriver } from "../engine/engine-driver.js";
import type { Logger } from "../log/logger.js";
import { sweepOrphans } from "./engine-output.js";
import type { SleepLevel } from "./engine-sleep.js";
import { foldSnapshots } from "./replica-fold.js";
import { routedTicket, type SuspectProbing, Suspects, WaitQueue } from "./replica-router.js";
import type { RouteHint, RouterPolicy } from "./routing/route-decision.js";
import { type Candidate, RoutePicker } from "./routing/route-picker.js";
import { SupervisorEvents } from "./supervisor-events.js";
import type {
  EngineEndpoint,
  ReplicaView,
  RequestTicket,
  SleepState,
  SupervisorError,
  SupervisorEvent,
  SupervisorSnapshot,
  SupervisorState,
  SupervisorView,
} from "./types.js";

/** What the set needs of a replica's Supervisor (supervisor.ts, built with sweepOrphans: false). */
export interface ReplicaSupervisor extends SupervisorView {
  start(): Promise<void>;
  stop(options?: { drainTimeoutMs?: number; force?: boolean }): Promise<void>;
  waitFor(states: SupervisorState[], timeoutMs: number): Promise<SupervisorSnapshot>;
  /** Sleep mode (a model of a swap group): see Supervisor.sleep / wake. */
  sleep?(level?: SleepLevel): Promise<void>;
  wake?(): Promise<void>;
}

/** One replica: its index, its GPUs, and the supervisor of its engine. */
export interface Replica {
  readonly index: number;
  readonly gpuIds: "all" | number[];
  /** Its engine's MAX_NUM_SEQS: admission counts the slots of the ready replicas (they differ mid-reload). */
  readonly maxNumSeqs: number;
  readonly supervisor: ReplicaSupervisor;
  /** Its engine driver (the set sweeps orphans with the first replica's). */
  readonly driver?: EngineDriver;
}

export type ReplicaSnapshot = ReplicaView;

/** What the set shows before its engines start (ReplicaSet.hold). */
export type HeldState =
  | { state: "loading"; progress: number | null; detail: string }
  | { state: "failed"; error: SupervisorError };

export interface ReplicaSetDeps {
  /** A driver of this instance's engines, for the one orphan sweep before the start and after the stop. */
  driver: EngineDriver;
  logger: Logger;
  /** How suspect replicas are probed (replica-router.ts; defaults: system clock, GET /health, 1 s). */
  suspects?: SuspectProbing;
  /** Sweep orphaned engines on start and stop (default true); a ModelSet sweeps once for all its models. */
  sweepOrphans?: boolean;
  /** ROUTER (default prefix), and the prefix index's blocks per replica (default: llm-d's H100 figure). */
  router?: RouterPolicy;
  indexBlocks?: number;
}

/**
 * The engines of a runner as the instance drives them and status, heartbeats and /metrics read them: one model's
 * ReplicaSet, or several models' ModelSet (model-set.ts).
 */
export interface RunnerEngines extends SupervisorView {
  /** Engines (replicas) in all. */
  readonly size: number;
  start(): Promise<void>;
  stop(options?: { drainTimeoutMs?: number; force?: boolean }): Promise<void>;
  hold(next: HeldState | null): void;
  replicas(): ReplicaSnapshot[];
  readySlots(): number;
  onReplicaChange(listener: () => void): () => void;
  waitFor(states: SupervisorState[], timeoutMs: number): Promise<SupervisorSnapshot>;
}

export class ReplicaSet implements RunnerEngines {
  private readonly events: SupervisorEvents;
  private readonly members: Replica[];
  private readonly offs = new Map<Replica, () => void>();
  private readonly changeListeners = new Set<() => void>();
  /** Replicas being rolled by a reload: their drain and stop read as loading, not as the runner going away. */
  private readonly replacing = new Set<number>();
  /** Set by stop(): a reload under way starts no engine after it. */
  private stopping = false;
  private state: SupervisorState;
  private readonly queue = new WaitQueue();
  private held: HeldState | null = null;
  private readonly picker: RoutePicker;
  private readonly suspects: Suspects;

  constructor(
    members: readonly Replica[],
    private readonly deps: ReplicaSetDeps,
  ) {
    if (members.length === 0) throw new Error("a replica set needs at least one replica");
    this.members = [...members];
    this.events = new SupervisorEvents(deps.logger);
    this.suspects = new Suspects(() => this.pump(), deps.suspects);
    this.picker = new RoutePicker(deps.router ?? "prefix", deps.indexBlocks);
    this.state = this.snapshot().state;
    for (const member of members) this.attach(member);
  }

  get size(): number {
    return this.members.length;
  }

  /** Removes orphaned engines of this instance once, then starts every replica. */
  async start(): Promise<void> {
    if (this.deps.sweepOrphans !== false) await sweepOrphans(this.deps.driver, this.deps.logger, "start");
    await Promise.all(this.members.map((m) => m.supervisor.start()));
  }

  /** Drains and stops every replica at once, then sweeps: nothing of ours outlives a stop. */
  async stop(options: { drainTimeoutMs?: number; force?: boolean } = {}): Promise<void> {
    this.stopping = true;
    this.pump();
    this.suspects.clearAll();
    await Promise.all(this.members.map((m) => m.supervisor.stop(options)));
    if (this.deps.sweepOrphans !== false) await sweepOrphans(this.deps.driver, this.deps.logger, "stop");
  }

  /** The replicas' indexes, in order. */
  indexes(): number[] {
    return this.members.map((m) => m.index);
  }

  /** The supervisor of one replica (for its generation when it is replaced). */
  member(index: number): Replica | undefined {
    return this.members.find((m) => m.index === index);
  }

  /**
   * Rolls one replica onto a new engine: it gets nothing new (draining), its in-flight requests finish (up to
   * its drain timeout), its engine stops, then `next` starts and is waited for until ready. Rejects when `next`
   * fails or is not ready in time; it stays in the set either way (its own supervisor restarts or fails it).
   */
  async replace(next: Replica, readyTimeoutMs: number): Promise<void> {
    const at = this.members.findIndex((m) => m.index === next.index);
    const old = this.members[at];
    if (old === undefined) throw new Error(`no replica ${next.index}`);
    this.replacing.add(next.index);
    try {
      await old.supervisor.stop();
      if (this.stopping) throw new Error("the runner is stopping");
      this.detach(old);
      this.picker.forget(next.index);
      this.members[at] = next;
      this.attach(next);
      this.forward({ type: "state", from: "stopped", to: "stopped", snapshot: this.snapshot() });
      await this.startAndWait(next, readyTimeoutMs);
    } finally {
      this.replacing.delete(next.index);
      this.forward({ type: "state", from: "stopped", to: "stopped", snapshot: this.snapshot() });
    }
  }

  /** Adds a replica (REPLICAS raised) and waits until it is ready. */
  async add(next: Replica, readyTimeoutMs: number): Promise<void> {
    if (this.member(next.index)) throw new Error(`replica ${next.index} exists already`);
    if (this.stopping) throw new Error("the runner is stopping");
    this.members.push(next);
    this.attach(next);
    await this.startAndWait(next, readyTimeoutMs);
  }

  /** Removes a replica (REPLICAS lowered): drained and stopped first. */
  async remove(index: number): Promise<void> {
    const old = this.member(index);
    if (old === undefined || this.members.length === 1) throw new Error(`replica ${index} cannot be removed`);
    await old.supervisor.stop();
    this.detach(old);
    this.picker.forget(index);
    this.members.splice(this.members.indexOf(old), 1);
    this.forward({ type: "state", from: "stopped", to: "stopped", snapshot: this.snapshot() });
  }

  private async startAndWait(next: Replica, readyTimeoutMs: number): Promise<void> {
    await next.supervisor.start();
    const snap = await next.supervisor.waitFor(["ready", "failed"], readyTimeoutMs);
    if (snap.state === "failed") {
      const why = snap.lastError ? `${snap.lastError.reason}: ${snap.lastError.message}` : "no reason given";
      throw new Error(`replica ${next.index} failed to start with the new config (${why})`);
    }
  }

  private attach(member: Replica): void {
    this.offs.set(
      member,
      member.supervisor.on((event) => this.forward(event)),
    );
  }

  private detach(member: Replica): void {
    this.offs.get(member)?.();
    this.offs.delete(member);
  }

  snapshot(): SupervisorSnapshot {
    const folded = foldSnapshots(this.members.map((m) => this.view(m)));
    const held = this.held;
    if (held === null) return folded;
    return held.state === "loading"
      ? { ...folded, state: "loading", progress: held.progress, progressDetail: held.detail }
      : { ...folded, state: "failed", progress: null, progressDetail: null, lastError: held.error };
  }

  /**
   * Before the engines start (the model being downloaded, say): the runner reads as loading with this progress, or
   * as failed with this error, on every surface (/health, /ready, status, heartbeats). null: the engines' own state.
   */
  hold(next: HeldState | null): void {
    const before = this.held;
    this.held = next;
    if (next?.state === "loading" && before?.state === "loading") {
      this.events.emit({ type: "progress", progress: next.progress, detail: next.detail });
      return;
    }
    if (next?.state === "failed") this.events.emit({ type: "error", error: next.error });
    this.forward({ type: "state", from: "stopped", to: "stopped", snapshot: this.snapshot() });
  }

  /** A replica as the fold sees it: one being rolled reads as loading while it drains and stops. */
  private view(m: Replica): SupervisorSnapshot {
    const snap = m.supervisor.snapshot();
    if (!this.replacing.has(m.index) || (snap.state !== "draining" && snap.state !== "stopped")) return snap;
    return {
      ...snap,
      state: "loading",
      progress: null,
      progressDetail: "restarting with the new configuration",
    };
  }

  /** Each replica's own snapshot, for status and /metrics. */
  replicas(): ReplicaSnapshot[] {
    return this.members.map((m) => ({
      ...m.supervisor.snapshot(),
      replica: m.index,
      gpus: m.gpuIds === "all" ? "all" : m.gpuIds.join(","),
    }));
  }

  /** A ready, trusted replica by the ROUTER policy, without a slot bound (the engine queues beyond it). */
  admit = (): RequestTicket | null => this.take(false);

  /**
   * A ticket on a replica with a free slot, else a place in the FIFO (types.ts SupervisorView.acquire). The hint's
   * affinity key keeps a key's requests on one replica while it is ready and has room; its block chain feeds the
   * prefix policy. The ticket carries the router's decision (`route`).
   */
  acquire(signal?: AbortSignal, hint?: RouteHint): Promise<RequestTicket | null> {
    if (this.stopping || this.readySlots() === 0) return Promise.resolve(null);
    const ticket = this.queue.size === 0 ? this.take(true, hint) : null;
    return ticket === null ? this.queue.enqueue(signal, hint) : Promise.resolve(ticket);
  }

  /** Hands free slots to the waiters in order (each routed by its own hint); ends every wait when none can be had. */
  private pump(): void {
    if (this.stopping || this.readySlots() === 0) this.queue.flush();
    while (this.queue.size > 0) {
      const ticket = this.take(true, this.queue.nextHint());
      if (ticket === null) break;
      this.queue.give(ticket); // someone waits: it can't be refused
    }
  }

  /**
   * Lists the ready replicas not suspect (free: with a free slot, when `slotted`), lets the router pick one, and
   * wraps its ticket with the decision.
   */
  private take(slotted: boolean, hint?: RouteHint): RequestTicket | null {
    const candidates: Candidate[] = [];
    const members: Replica[] = [];
    for (const m of this.members) {
      const snap = m.supervisor.snapshot();
      if (snap.state !== "ready" || this.suspects.isSuspect(m.index, snap.generation)) continue;
      if (snap.sleep !== undefined && snap.sleep !== "awake") continue; // asleep (swap group): admits nothing
      members.push(m);
      candidates.push({
        replica: m.index,
        inFlight: snap.inFlight,
        slots: m.maxNumSeqs,
        free: !(slotted && snap.inFlight >= m.maxNumSeqs),
        engine: m.supervisor,
        generation: snap.generation,
      });
    }
    const pick = this.picker.pick(candidates, hint);
    if (pick === null) return null;
    const member = members[pick.at] as Replica;
    const ticket = member.supervisor.admit();
    if (ticket === null) return null;
    this.picker.commit(pick, candidates[pick.at] as Candidate, hint);
    return routedTicket(ticket, this.suspects, () => this.pump(), this.members.length > 1, pick.decision);
  }

  /**
   * Where the set's engines stand in sleep mode: waking or falling asleep while any is; asleep while any replica
   * still sleeps (a restarted one comes back awake: waking the set wakes the rest); else awake.
   */
  sleepState(): SleepState {
    const states = this.members.map((m) => m.supervisor.snapshot().sleep ?? "awake");
    if (states.includes("waking")) return "waking";
    if (states.includes("falling_asleep")) return "falling_asleep";
    return states.includes("asleep") ? "asleep" : "awake";
  }

  /** Puts every ready replica to sleep (each must be idle); rejects with the first failure. */
  async sleep(level?: SleepLevel): Promise<void> {
    const ready = this.members.filter((m) => m.supervisor.snapshot().state === "ready");
    await Promise.all(ready.map((m) => this.sleepCall(m).sleep(level)));
  }

  /** Wakes every sleeping replica; rejects with the first failure (that replica is restarted). */
  async wake(): Promise<void> {
    const asleep = this.members.filter((m) => m.supervisor.snapshot().sleep === "asleep");
    await Promise.all(asleep.map((m) => this.sleepCall(m).wake()));
  }

  private sleepCall(m: Replica): Required<Pick<ReplicaSupervisor, "sleep" | "wake">> {
    const { sleep, wake } = m.supervisor;
    if (!sleep || !wake) throw new Error(`replica ${m.index} runs without sleep mode`);
    return { sleep: sleep.bind(m.supervisor), wake: wake.bind(m.supervisor) };
  }

  replicaEndpoints(): Array<{ replica: number; endpoint: EngineEndpoint }> {
    if (this.members.length === 1) return [];
    const out: Array<{ replica: number; endpoint: EngineEndpoint }> = [];
    for (const m of this.members) {
      const endpoint = m.supervisor.engineEndpoint();
      if (endpoint && m.supervisor.snapshot().state === "ready") out.push({ replica: m.index, endpoint });
    }
    return out;
  }

  replicaSnapshots(): ReplicaView[] {
    return this.replicas();
  }

  readyEngines(): number {
    return this.members.filter((m) => m.supervisor.snapshot().state === "ready").length;
  }

  /** Σ MAX_NUM_SEQS of the ready replicas. */
  readySlots(): number {
    return this.members
      .filter((m) => m.supervisor.snapshot().state === "ready")
      .reduce((n, m) => n + m.maxNumSeqs, 0);
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

  /** Called on every replica's state change, and when a replica is added or removed (for status.json). */
  onReplicaChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Log, progress, error and sleep events pass through; state events are the folded state's changes. */
  private forward(event: SupervisorEvent): void {
    if (event.type === "sleep") {
      this.pump(); // an engine awake again takes its waiters
      for (const listener of this.changeListeners) listener();
    }
    if (event.type !== "state") {
      this.events.emit(event);
      return;
    }
    this.pump(); // a replica ready wakes waiters; none ready ends them
    for (const m of this.members) {
      const state = m.supervisor.snapshot().state;
      if (state !== "ready" && state !== "draining") this.picker.forget(m.index); // its KV cache is gone
    }
    for (const listener of this.changeListeners) listener();
    const snapshot = this.snapshot();
    const from = this.state;
    if (snapshot.state === from) return;
    this.state = snapshot.state;
    this.events.emit({ type: "state", from, to: snapshot.state, snapshot });
  }
}
