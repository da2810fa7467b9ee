// Several models on one runner (LLM_RUNNER_MODELS_FILE), each its own ReplicaSet. A dedicated model is always
// awake. The models of a swap group share GPUs with at most `awake` of them awake: a request for a sleeping one
// wakes it (the least recently used awake one drained and put to sleep first), idle ones go to sleep after
// MODEL_IDLE_SLEEP, and every start or restart of a group's engine first makes room (a new engine loads awake).
// The decisions are swap-policy.ts; the sleep and wake calls the supervisor's (vLLM's sleep mode).
import type { Logger } from "../log/logger.js";
import type { Clock, TimerId } from "./clock.js";
import type { SleepLevel } from "./engine-sleep.js";
import { foldSnapshots } from "./replica-fold.js";
import type { HeldState, ReplicaSet, ReplicaSnapshot, RunnerEngines } from "./replica-set.js";
import type { RouteHint } from "./routing/route-decision.js";
import { SupervisorEvents } from "./supervisor-events.js";
import { bootOrder, idleSleepers, pickVictim, type SwapMember, sleepLevelFor } from "./swap-policy.js";
import type {
  EngineEndpoint,
  ModelFigures,
  ModelState,
  ReplicaView,
  RequestTicket,
  SleepState,
  SupervisorEvent,
  SupervisorSnapshot,
  SupervisorState,
  SupervisorView,
} from "./types.js";

/** A swap group: its name, how many of its models may be awake, their sleep level. */
export interface SwapGroupSpec {
  name: string;
  awake: number;
  sleepLevel: SleepLevel;
}

/** One model as the set is given it. */
export interface ModelMemberSpec {
  id: string;
  replicas: ReplicaSet;
  /** null: dedicated (always awake). */
  group: SwapGroupSpec | null;
  /** Its weights in bytes (a level-1 sleep keeps them in host RAM), when known. */
  weightsBytes: () => number | null;
}

export type { ModelFigures, ModelState };

export interface ModelSetDeps {
  clock: Clock;
  logger: Logger;
  /** MODEL_IDLE_SLEEP: an awake model of a swap group nobody asked for this long goes to sleep (0: never). */
  idleSleepMs: number;
  /** MODEL_WAKE_TIMEOUT: how long a request waits for its model to wake. */
  wakeTimeoutMs: number;
  /** How much host RAM level-1 sleepers may hold together (bytes). */
  hostBudgetBytes: number;
  /** How long a group's engine may take to start before the next one starts anyway. */
  bootTimeoutMs: number;
  /** Removes orphaned engines of this runner, once before the start and once after the stop (the models' sets don't). */
  sweep?: (when: "start" | "stop") => Promise<void>;
}

/** A request for a sleeping model waited MODEL_WAKE_TIMEOUT and it is still not awake. */
export class WakeTimeout extends Error {
  constructor(
    readonly model: string,
    readonly waitedMs: number,
    readonly retryAfterS: number,
  ) {
    super(
      `The model ${model} is waking up (it was asleep to make room for another on its GPUs) and was not awake within ${Math.round(waitedMs / 100) / 10} s (MODEL_WAKE_TIMEOUT); retry in ${retryAfterS} s.`,
    );
    this.name = "WakeTimeout";
  }
}

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => {},
      () => {},
    );
    return result;
  }
}

class Member {
  active = 0;
  lastUsedMs = 0;
  lastUseSeq = 0;
  everUsed = false;
  /** Chosen to sleep: new requests wait until it is awake again. */
  evicting = false;
  /** A request asked it to wake: while its engine restarts after a failed wake, requests keep waiting. */
  wanted = false;
  wakes = 0;
  sleeps = 0;
  lastWakeMs: number | null = null;
  wakeMsTotal = 0;
  waking: Promise<void> | null = null;
  constructor(
    readonly spec: ModelMemberSpec,
    readonly group: Group | null,
  ) {}
  get id(): string {
    return this.spec.id;
  }
  get replicas(): ReplicaSet {
    return this.spec.replicas;
  }
  /** Its engines ready, and awake (sleep mode) and not being put to sleep. */
  get awake(): boolean {
    return (
      this.replicas.snapshot().state === "ready" && this.replicas.sleepState() === "awake" && !this.evicting
    );
  }
  /** Its engines were started (a group's wait their turn at boot). */
  started = false;
  /** Holds GPU memory: ready and not asleep, or starting/loading. */
  get occupying(): boolean {
    if (!this.started) return false;
    const state = this.replicas.snapshot().state;
    if (state === "starting" || state === "loading") return true;
    return state === "ready" && this.replicas.sleepState() !== "asleep";
  }
}

/** A swap group's model before its engines' turn to start (one at a time, each making room). */
function waitingTurn(m: Member): HeldState {
  return {
    state: "loading",
    progress: null,
    detail: `waiting for its turn to start on the GPUs of swap group ${m.group?.spec.name}`,
  };
}

class Group {
  readonly lock = new Mutex();
  readonly members: Member[] = [];
  constructor(readonly spec: SwapGroupSpec) {}
}

export class ModelSet implements RunnerEngines {
  private readonly members: Member[];
  private readonly byId = new Map<string, Member>();
  private readonly groups = new Map<string, Group>();
  private readonly events: SupervisorEvents;
  private readonly waiters = new Set<() => void>();
  private readonly changeListeners = new Set<() => void>();
  private readonly offs: Array<() => void> = [];
  private readonly gates = new Map<string, ModelGate>();
  private state: SupervisorState;
  private seq = 0;
  private stopping = false;
  private idleTimer: TimerId | undefined;
  private booting: Promise<void>[] = [];

  constructor(
    specs: readonly ModelMemberSpec[],
    private readonly deps: ModelSetDeps,
  ) {
    if (specs.length === 0) throw new Error("a model set needs at least one model");
    this.events = new SupervisorEvents(deps.logger);
    this.members = specs.map((spec) => {
      let group: Group | null = null;
      if (spec.group) {
        group = this.groups.get(spec.group.name) ?? new Group(spec.group);
        this.groups.set(spec.group.name, group);
      }
      const member = new Member(spec, group);
      group?.members.push(member);
      this.byId.set(spec.id, member);
      return member;
    });
    this.state = this.snapshot().state;
    for (const m of this.members) {
      this.offs.push(m.replicas.on((event) => this.forward(m, event)));
      this.offs.push(m.replicas.onReplicaChange(() => this.replicaChanged()));
      this.gates.set(m.id, new ModelGate(m, this));
    }
  }

  now(): number {
    return this.deps.clock.now();
  }

  /** The model ids, the default (first) one first. */
  ids(): string[] {
    return this.members.map((m) => m.id);
  }

  /** The view of one model: its admission wakes it (null: not served here). */
  model(id: string): ModelGate | undefined {
    return this.gates.get(id);
  }

  /** Each model's figures, for status, /metrics and heartbeats. */
  figures(): ModelFigures[] {
    return this.members.map((m) => this.figuresOf(m));
  }

  figuresOf(m: Member): ModelFigures {
    const snap = m.replicas.snapshot();
    const sleep = m.replicas.sleepState();
    const state: ModelState = snap.state !== "ready" ? snap.state : sleep;
    return {
      id: m.id,
      group: m.group?.spec.name ?? null,
      state,
      lastUsed: m.everUsed ? new Date(m.lastUsedMs).toISOString() : null,
      wakes: m.wakes,
      sleeps: m.sleeps,
      lastWakeMs: m.lastWakeMs,
      wakeSecondsTotal: m.wakeMsTotal / 1000,
      active: m.active,
    };
  }

  /**
   * Starts the dedicated models at once and each swap group's models one after another (each start makes room
   * first, so the first `awake` of the file's order end up awake). Resolves once every start is under way.
   */
  async start(): Promise<void> {
    await this.deps.sweep?.("start");
    for (const m of this.members)
      if (m.group)
        m.replicas.hold({
          state: "loading",
          progress: null,
          detail: `waiting for its turn to start on the GPUs of swap group ${m.group.spec.name}`,
        });
    const dedicated = this.members.filter((m) => !m.group);
    for (const m of dedicated) m.started = true;
    await Promise.all(dedicated.map((m) => m.replicas.start()));
    this.booting = [...this.groups.values()].map((g) => this.boot(g));
    this.scheduleIdleCheck();
  }

  private async boot(group: Group): Promise<void> {
    for (const m of bootOrder(group.members)) {
      if (this.stopping) return;
      await group.lock.run(async () => {
        await this.makeRoom(group, m);
        if (this.stopping) return;
        m.replicas.hold(null);
        m.started = true;
        await m.replicas.start();
        this.touch(m, false);
        await m.replicas
          .waitFor(["ready", "failed", "draining", "stopped"], this.deps.bootTimeoutMs)
          .catch(() => {});
        this.touch(m, false);
      });
    }
  }

  /** Stops every model's engines (draining them); nothing is woken or started after. */
  async stop(options: { drainTimeoutMs?: number; force?: boolean } = {}): Promise<void> {
    this.stopping = true;
    this.deps.clock.clearTimeout(this.idleTimer);
    this.notify();
    await Promise.all(this.members.map((m) => m.replicas.stop(options)));
    await Promise.all(this.booting);
    await this.deps.sweep?.("stop");
  }

  /**
   * Before a restart of `id`'s engine (its supervisor's beforeRestart): in a swap group, room for it first. The
   * engine restarts awake.
   */
  beforeRestart(id: string): Promise<void> {
    const m = this.byId.get(id);
    if (!m?.group || this.stopping) return Promise.resolve();
    const group = m.group;
    return group.lock.run(() => this.makeRoom(group, m));
  }

  /**
   * Runs `fn` (a reload rolling `id`'s engines) with room made for it first in its swap group, under the group's
   * lock: its new engines load awake. A dedicated model's runs at once.
   */
  withRoom(id: string, fn: () => Promise<void>): Promise<void> {
    const m = this.byId.get(id);
    if (!m?.group) return fn();
    const group = m.group;
    return group.lock.run(async () => {
      await this.makeRoom(group, m);
      await fn();
      this.touch(m, false);
    });
  }

  /** Puts the least recently used awake models of `group` to sleep until `m` fits. Under the group's lock. */
  private async makeRoom(group: Group, m: Member): Promise<void> {
    for (;;) {
      if (this.stopping) return;
      const victim = pickVictim(this.policyView(group), m.id, group.spec.awake);
      if (victim === null) return;
      const member = this.byId.get(victim.id) as Member;
      await this.putToSleep(member);
    }
  }

  /** Drains `m` (new requests wait for it to wake again), then puts it to sleep. Under its group's lock. */
  private async putToSleep(m: Member): Promise<void> {
    const group = m.group as Group;
    m.evicting = true;
    this.notify();
    try {
      await this.until(() => m.active === 0 || this.stopping || m.replicas.snapshot().state !== "ready");
      if (this.stopping || m.replicas.snapshot().state !== "ready") return;
      const level = sleepLevelFor(
        group.spec.sleepLevel,
        m.spec.weightsBytes(),
        this.hostHeld(m),
        this.deps.hostBudgetBytes,
      );
      const started = this.deps.clock.now();
      try {
        await m.replicas.sleep(level);
        m.sleeps += 1;
        // The engine's "asleep" event went out before this count: the status file is written again with it.
        this.replicaChanged();
        this.deps.logger.info(
          { model: m.id, group: group.spec.name, level, ms: Math.round(this.deps.clock.now() - started) },
          `model ${m.id} asleep (level ${level})`,
        );
      } catch (err) {
        // Its engine was called down and restarts (sleep_failed); the restart makes room itself.
        this.deps.logger.error(
          { model: m.id, err: (err as Error).message },
          `model ${m.id} did not go to sleep`,
        );
      }
    } finally {
      m.evicting = false;
      this.notify();
    }
  }

  /** Host RAM held by level-1 sleepers' weights, besides `except`. */
  private hostHeld(except: Member): number {
    let held = 0;
    for (const m of this.members)
      if (m !== except && m.group?.spec.sleepLevel === 1 && m.replicas.sleepState() === "asleep")
        held += m.spec.weightsBytes() ?? 0;
    return held;
  }

  private policyView(group: Group): SwapMember[] {
    return group.members.map((m) => ({
      id: m.id,
      occupying: m.occupying,
      awake: m.awake,
      active: m.active,
      lastUsedMs: m.lastUsedMs,
      lastUseSeq: m.lastUseSeq,
    }));
  }

  private touch(m: Member, used: boolean): void {
    m.lastUsedMs = this.deps.clock.now();
    m.lastUseSeq = ++this.seq;
    if (used) m.everUsed = true;
  }

  /**
   * Waits until `m` is awake (waking it) or its deadline passes. Resolves true when it may be asked, and then the
   * request is counted in (enter) in the same step, so no swap starts between the check and the count; false when
   * its engines are not ready (not a wake's business: the replicas refuse with their own state); rejects with
   * WakeTimeout past the deadline, or the signal's reason.
   */
  async awaken(m: Member, signal: AbortSignal | undefined, started: number): Promise<boolean> {
    this.touch(m, true);
    if (!m.group) {
      this.enter(m);
      return true;
    }
    const deadline = started + this.deps.wakeTimeoutMs;
    for (;;) {
      if (this.stopping) return false;
      signal?.throwIfAborted();
      const state = m.replicas.snapshot().state;
      const sleep = m.replicas.sleepState();
      if (state === "ready" && sleep === "awake" && !m.evicting) {
        m.wanted = false;
        this.enter(m);
        return true;
      }
      const restarting = state === "starting" || state === "loading" || state === "restarting";
      if (state !== "ready" && !(restarting && m.wanted)) return false;
      const now = this.deps.clock.now();
      if (now >= deadline) throw new WakeTimeout(m.id, now - started, this.retryAfterS(m));
      if (state === "ready" && sleep === "asleep" && !m.evicting) {
        m.wanted = true;
        void this.wake(m);
      }
      await this.changeOrTimeout(deadline - now, signal);
    }
  }

  /** A client's wait past MODEL_WAKE_TIMEOUT: about one more wake, at least 1 s. */
  private retryAfterS(m: Member): number {
    return Math.max(1, Math.ceil((m.lastWakeMs ?? this.deps.wakeTimeoutMs) / 1000));
  }

  /** Wakes `m` under its group's lock, making room first; one wake at a time per model. */
  private wake(m: Member): Promise<void> {
    if (m.waking) return m.waking;
    const group = m.group as Group;
    m.waking = group.lock
      .run(async () => {
        if (this.stopping || m.replicas.snapshot().state !== "ready" || m.replicas.sleepState() !== "asleep")
          return;
        await this.makeRoom(group, m);
        if (this.stopping) return;
        const started = this.deps.clock.now();
        try {
          await m.replicas.wake();
          m.wakes += 1;
          m.lastWakeMs = this.deps.clock.now() - started;
          m.wakeMsTotal += m.lastWakeMs;
          this.touch(m, false);
          // The engine's "awake" event went out before this count: the status file is written again with it.
          this.replicaChanged();
          this.deps.logger.info(
            { model: m.id, group: group.spec.name, ms: Math.round(m.lastWakeMs) },
            `model ${m.id} awake`,
          );
        } catch (err) {
          // The failed replica is restarted like a crash (wake_failed); requests keep waiting for it.
          this.deps.logger.error(
            { model: m.id, err: (err as Error).message },
            `model ${m.id} did not wake up`,
          );
        }
      })
      .finally(() => {
        m.waking = null;
        this.notify();
      });
    return m.waking;
  }

  /** A request for `m` was admitted (or gave up): counted so a swap waits for it. */
  enter(m: Member): void {
    m.active += 1;
  }

  leave(m: Member): void {
    m.active -= 1;
    this.touch(m, true);
    if (m.active === 0) this.notify();
  }

  private scheduleIdleCheck(): void {
    if (this.deps.idleSleepMs <= 0 || this.groups.size === 0 || this.stopping) return;
    const every = Math.max(50, Math.min(5_000, Math.floor(this.deps.idleSleepMs / 4)));
    this.idleTimer = this.deps.clock.setTimeout(() => {
      this.sleepIdle();
      this.scheduleIdleCheck();
    }, every);
  }

  /** Puts to sleep the awake models of swap groups nobody asked for in MODEL_IDLE_SLEEP. */
  sleepIdle(): void {
    const now = this.deps.clock.now();
    for (const group of this.groups.values()) {
      for (const idle of idleSleepers(this.policyView(group), now, this.deps.idleSleepMs)) {
        const m = this.byId.get(idle.id) as Member;
        void group.lock.run(async () => {
          // Checked again under the lock: a request may have come meanwhile.
          const fresh = idleSleepers(this.policyView(group), this.deps.clock.now(), this.deps.idleSleepMs);
          if (!fresh.some((f) => f.id === m.id)) return;
          this.deps.logger.info(
            { model: m.id, idleMs: this.deps.idleSleepMs },
            `model ${m.id} idle: going to sleep`,
          );
          await this.putToSleep(m);
        });
      }
    }
  }

  private until(ready: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      if (ready()) {
        resolve();
        return;
      }
      const check = () => {
        if (!ready()) return;
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  /** Resolves at the next change of any model (state, sleep, requests), after `ms`, or rejects on abort. */
  private changeOrTimeout(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        this.waiters.delete(done);
        this.deps.clock.clearTimeout(timer);
        signal?.removeEventListener("abort", aborted);
        resolve();
      };
      const aborted = () => {
        done();
        reject(signal?.reason);
      };
      const timer = this.deps.clock.setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener("abort", aborted, { once: true });
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private forward(m: Member, event: SupervisorEvent): void {
    if (event.type === "state" || event.type === "sleep") this.notify();
    if (event.type === "state" && event.to === "ready") this.touch(m, false);
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

  // --- the runner-wide view (/health, status, the default surfaces): every model's engines folded ----------

  get size(): number {
    return this.members.reduce((n, m) => n + m.replicas.size, 0);
  }

  /** Before the engines start (the models' download): every model reads as this; null: their own state. */
  hold(next: HeldState | null): void {
    for (const m of this.members)
      m.replicas.hold(next === null && m.group && !m.started ? waitingTurn(m) : next);
  }

  /** Every model's replicas, each with its model id. */
  replicas(): ReplicaSnapshot[] {
    return this.members.flatMap((m) => m.replicas.replicas());
  }

  onReplicaChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private replicaChanged(): void {
    for (const listener of this.changeListeners) listener();
  }

  waitFor(states: SupervisorState[], timeoutMs: number): Promise<SupervisorSnapshot> {
    if (states.includes(this.state)) return Promise.resolve(this.snapshot());
    return this.events.waitFor(states, timeoutMs, () => this.state);
  }

  snapshot(): SupervisorSnapshot {
    return foldSnapshots(this.members.map((m) => m.replicas.snapshot()));
  }

  /** The default model's admission (a caller that names no model). */
  admit(): RequestTicket | null {
    return (this.gates.get(this.ids()[0] as string) as ModelGate).admit();
  }

  acquire(signal?: AbortSignal, hint?: RouteHint): Promise<RequestTicket | null> {
    return (this.gates.get(this.ids()[0] as string) as ModelGate).acquire(signal, hint);
  }

  engineEndpoint(): EngineEndpoint | null {
    for (const m of this.members) {
      const endpoint = m.replicas.engineEndpoint();
      if (endpoint) return endpoint;
    }
    return null;
  }

  on(listener: (event: SupervisorEvent) => void): () => void {
    return this.events.on(listener);
  }

  readyEngines(): number {
    return this.members.reduce((n, m) => n + m.replicas.readyEngines(), 0);
  }

  readySlots(): number {
    return this.members.reduce((n, m) => n + m.replicas.readySlots(), 0);
  }

  replicaSnapshots(): ReplicaView[] {
    return this.replicas();
  }

  /** Every model's engines (asleep ones answer /metrics too), for the vllm:* scrape; each has its model_name. */
  replicaEndpoints(): Array<{ replica: number; endpoint: EngineEndpoint }> {
    return this.members.flatMap((m) => {
      const several = m.replicas.replicaEndpoints();
      if (several.length > 0) return several;
      const endpoint = m.replicas.snapshot().state === "ready" ? m.replicas.engineEndpoint() : null;
      return endpoint === null ? [] : [{ replica: 0, endpoint }];
    });
  }

  models(): ModelFigures[] {
    return this.figures();
  }
}

/**
 * One model's SupervisorView, what the gateway's admission for that model uses: acquire() first waits for the
 * model to be awake (waking it), and counts the request until its ticket ends so that no swap cuts it.
 */
export class ModelGate implements SupervisorView {
  constructor(
    private readonly member: Member,
    private readonly set: ModelSet,
  ) {}

  get id(): string {
    return this.member.id;
  }

  get replicas(): ReplicaSet {
    return this.member.replicas;
  }

  /** Its figures (state with sleep mode, last used, wakes). */
  figures(): ModelFigures {
    return this.set.figuresOf(this.member);
  }

  /** A sleeping model reads as ready (it is routable: a request wakes it). */
  snapshot(): SupervisorSnapshot {
    return this.member.replicas.snapshot();
  }

  admit(): RequestTicket | null {
    if (!this.member.awake) return null;
    const ticket = this.member.replicas.admit();
    return ticket === null ? null : this.counted(ticket);
  }

  async acquire(signal?: AbortSignal, hint?: RouteHint): Promise<RequestTicket | null> {
    const m = this.member;
    if (!(await this.set.awaken(m, signal, this.set.now()))) return null;
    // Counted in by awaken: a swap now waits for this request.
    let ticket: RequestTicket | null = null;
    try {
      ticket = await m.replicas.acquire(signal, hint);
      return ticket === null ? null : this.counted(ticket, true);
    } finally {
      if (ticket === null) this.set.leave(m);
    }
  }

  /** Wraps a ticket so that its end counts the request out (entered: acquire() already counted it in). */
  private counted(ticket: RequestTicket, entered = false): RequestTicket {
    const m = this.member;
    if (!entered) this.set.enter(m);
    let ended = false;
    return {
      get endpoint() {
        return ticket.endpoint;
      },
      get signal() {
        return ticket.signal;
      },
      progress: () => ticket.progress(),
      backpressure: (on) => ticket.backpressure?.(on),
      failed: () => ticket.failed?.(),
      end: () => {
        ticket.end();
        if (ended) return;
        ended = true;
        this.set.leave(m);
      },
    };
  }

  engineEndpoint(): EngineEndpoint | null {
    return this.member.replicas.engineEndpoint();
  }

  on(listener: (event: SupervisorEvent) => void): () => void {
    return this.member.replicas.on(listener);
  }

  readyEngines(): number {
    return this.member.replicas.readyEngines();
  }

  readySlots(): number {
    return this.member.replicas.readySlots();
  }

  replicaEndpoints(): Array<{ replica: number; endpoint: EngineEndpoint }> {
    return this.member.replicas.replicaEndpoints();
  }

  replicaSnapshots(): ReplicaView[] {
    return this.member.replicas.replicas();
  }

  sleepState(): SleepState {
    return this.member.replicas.sleepState();
  }
}
