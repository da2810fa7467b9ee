// A replica's supervisor in front of no engine, for the ReplicaSet and router unit tests: a state, a generation,
// tickets counted (each with its abort signal), state events emitted.
import { createLogger } from "../../log/logger.js";
import type { ReplicaSupervisor } from "../replica-set.js";
import { SupervisorEvents } from "../supervisor-events.js";
import type { RequestTicket, SleepState, SupervisorSnapshot, SupervisorState } from "../types.js";

export class FakeReplica implements ReplicaSupervisor {
  private readonly events = new SupervisorEvents(createLogger({ level: "error" }));
  /** The tickets in flight. */
  readonly live = new Set<AbortController>();
  /** Each backpressure(on) its tickets were told, in order. */
  readonly backpressure: boolean[] = [];
  generation = 1;
  /** Sleep mode: where it stands (sleepable replicas only), the levels it was put to sleep at, its wakes. */
  sleepState: SleepState = "awake";
  readonly sleeps: number[] = [];
  wakes = 0;
  /** While set, a sleep or a wake waits for it. */
  gate: Promise<void> | null = null;
  /** The next wake fails: the engine is called down (restarting). */
  failNextWake = false;
  /** Every sleep and wake call, in order, across the replicas given the same log. */
  constructor(
    readonly index: number,
    public state: SupervisorState = "ready",
    readonly sleepable = false,
    readonly log: string[] = [],
    readonly name = "m",
  ) {}
  async sleep(level: 1 | 2 = 1): Promise<void> {
    if (this.state !== "ready" || this.sleepState !== "awake")
      throw new Error(`cannot sleep: ${this.state}/${this.sleepState}`);
    if (this.live.size > 0) throw new Error("requests in flight");
    this.sleeps.push(level);
    this.log.push(`sleep ${this.name}`);
    this.setSleep("falling_asleep");
    if (this.gate) await this.gate;
    this.setSleep("asleep");
  }
  async wake(): Promise<void> {
    if (this.sleepState === "awake") return;
    this.wakes += 1;
    this.log.push(`wake ${this.name}`);
    this.setSleep("waking");
    if (this.gate) await this.gate;
    if (this.failNextWake) {
      this.failNextWake = false;
      this.sleepState = "awake";
      this.fail();
      throw new Error("wake failed");
    }
    this.setSleep("awake");
  }
  setSleep(to: SleepState): void {
    this.sleepState = to;
    this.events.emit({ type: "sleep", state: to });
  }
  setState(to: SupervisorState): void {
    const from = this.state;
    this.state = to;
    this.events.emit({ type: "state", from, to, snapshot: this.snapshot() });
  }
  /** The engine dies: every ticket aborted, the replica restarting. */
  fail(): void {
    for (const c of this.live) c.abort(new Error("the engine failed"));
    this.live.clear();
    this.setState("restarting");
  }
  snapshot(): SupervisorSnapshot {
    return {
      ...{ state: this.state, progress: null, progressDetail: null, engine: "sim", driver: "process" },
      ...{ modelId: "m", engineId: String(this.index), generation: this.generation, restarts: 0 },
      ...{ inFlight: this.live.size, startedAt: null, readySince: null, lastError: null },
      ...(this.sleepable ? { sleep: this.sleepState } : {}),
    };
  }
  admit(): RequestTicket | null {
    if (this.state !== "ready" || this.sleepState !== "awake") return null;
    const controller = new AbortController();
    this.live.add(controller);
    const baseUrl = `http://127.0.0.1:${9000 + this.index}`;
    return {
      endpoint: { baseUrl, apiKey: "k", generation: this.generation, replica: this.index },
      signal: controller.signal,
      progress() {},
      backpressure: (on) => {
        this.backpressure.push(on);
      },
      end: () => {
        this.live.delete(controller);
      },
    };
  }
  engineEndpoint() {
    return null;
  }
  on(listener: Parameters<ReplicaSupervisor["on"]>[0]) {
    return this.events.on(listener);
  }
  async start() {
    this.log.push(`start ${this.name}`);
    if (this.state === "stopped") this.setState("ready");
  }
  async stop() {}
  async waitFor() {
    return this.snapshot();
  }
}
