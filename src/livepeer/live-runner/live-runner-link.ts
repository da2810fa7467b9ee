// One runner's link to its Live Runner orchestrator: the reserved sessions, the session gate the gateway asks, and
// the agent that registers and heartbeats once the gateway listens (its runner_url needs the real port).
import type { LiveRunnerConfig } from "../../config/types.js";
import type { Logger } from "../../log/logger.js";
import type { LiveRunnerGpu } from "./heartbeat-wire.js";
import {
  HEARTBEAT_RESULTS,
  type HeartbeatResult,
  LiveRunnerAgent,
  type LiveRunnerSnapshot,
  type RunnerTruth,
} from "./live-runner-agent.js";
import type { LiveRunnerPort } from "./live-runner-port.js";
import { LiveSessions } from "./live-sessions.js";
import { type OrchestratorHttp, undiciOrchestratorHttp } from "./orchestrator-client.js";
import { type RegistrationState, registeredSessionGate, type SessionGate } from "./session-gate.js";
import { systemTimers, type Timers } from "./timers.js";

const NO_HEARTBEATS = Object.fromEntries(HEARTBEAT_RESULTS.map((r) => [r, 0])) as Record<
  HeartbeatResult,
  number
>;

export interface LiveRunnerStart {
  runnerUrl: string;
  version: string;
  gpu: LiveRunnerGpu | null;
  truth(): RunnerTruth;
  price(): number | null;
}

export class LiveRunnerLink implements LiveRunnerPort {
  readonly sessions: LiveSessions;
  readonly gate: SessionGate;
  /** The registration as a session gate asks about it (runner id, registered, a heartbeat now). */
  readonly registration: RegistrationState;
  private agent: LiveRunnerAgent | null = null;
  private readonly http: OrchestratorHttp;
  private readonly timers: Timers;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly config: LiveRunnerConfig & { orchestratorUrl: string; secret: string },
    private readonly logger: Logger,
    options: { http?: OrchestratorHttp; timers?: Timers } = {},
  ) {
    this.timers = options.timers ?? systemTimers;
    this.http = options.http ?? undiciOrchestratorHttp({ tlsInsecure: config.tlsInsecure });
    this.sessions = new LiveSessions(this.timers);
    this.sessions.onChange(() => this.changed());
    const link = this;
    this.registration = {
      get runnerId() {
        return link.agent?.runnerId ?? null;
      },
      get isRegistered() {
        return link.agent?.isRegistered ?? false;
      },
      refreshSessions: () => link.agent?.refreshSessions(),
    };
    this.gate = registeredSessionGate(this.registration, this.sessions);
  }

  /** Registers and keeps heartbeating until stop(). */
  start(start: LiveRunnerStart): void {
    if (this.agent !== null) return;
    this.agent = new LiveRunnerAgent({
      identity: {
        orchestratorUrl: this.config.orchestratorUrl,
        registrationSecret: this.config.secret,
        runnerUrl: start.runnerUrl,
        mode: this.config.mode,
        app: this.config.app,
        label: this.config.label,
        version: start.version,
        gpu: start.gpu,
      },
      truth: start.truth,
      price: start.price,
      sessions: this.sessions,
      http: this.http,
      timers: this.timers,
      logger: this.logger,
    });
    this.agent.onChange(() => this.changed());
    this.agent.start();
  }

  /** The runner's state changed: a heartbeat goes out now if it would say something new. */
  notify(): void {
    this.agent?.notify();
  }

  snapshot(): LiveRunnerSnapshot {
    return (
      this.agent?.snapshot() ?? {
        orchestrator: this.config.orchestratorUrl,
        mode: this.config.mode,
        app: this.config.app,
        runnerUrl: this.config.url ?? "",
        registered: false,
        runnerId: null,
        problem: "not registered yet: the gateway is starting",
        lastResult: null,
        lastOkAt: null,
        sent: null,
        intervalMs: null,
        ttlMs: null,
        sessions: 0,
        o2r: "none",
        heartbeats: { ...NO_HEARTBEATS },
      }
    );
  }

  /** Called when the registration or the sessions change (for the HTTP workers' view). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Unregisters first (the orchestrator routes nothing new here), then closes the connections. */
  async stop(): Promise<void> {
    await this.agent?.stop();
    await this.http.close().catch(() => {});
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
