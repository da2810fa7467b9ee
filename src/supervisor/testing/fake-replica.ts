// A replica's supervisor in front of no engine, for the ReplicaSet and router unit tests: a state, a generation,
// tickets counted (each with its abort signal), state events emitted.
import { createLogger } from "../../log/logger.js";
import type { ReplicaSupervisor } from "../replica-set.js";
import { SupervisorEvents } from "../supervisor-events.js";
import type { RequestTicket, SupervisorSnapshot, SupervisorState } from "../types.js";

export class FakeReplica implements ReplicaSupervisor {
  private readonly events = new SupervisorEvents(createLogger({ level: "error" }));
  /** The tickets in flight. */
  readonly live = new Set<AbortController>();
  /** Each backpressure(on) its tickets were told, in order. */
  readonly backpressure: boolean[] = [];
  generation = 1;
  constructor(
    readonly index: number,
    public state: SupervisorState = "ready",
  ) {}
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
    };
  }
  admit(): RequestTicket | null {
    if (this.state !== "ready") return null;
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
  async start() {}
  async stop() {}
  async waitFor() {
    return this.snapshot();
  }
}
