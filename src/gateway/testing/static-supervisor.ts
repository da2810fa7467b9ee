import type { Config } from "../../config/types.js";
import type {
  EngineEndpoint,
  ReplicaView,
  RequestTicket,
  SupervisorError,
  SupervisorEvent,
  SupervisorSnapshot,
  SupervisorState,
  SupervisorView,
} from "../../supervisor/types.js";

/**
 * A minimal SupervisorView over a fixed engine endpoint: admits while its state is "ready", counts tickets,
 * and lets a test flip the state or kill every request in flight (as an engine death would).
 */
export class StaticSupervisor implements SupervisorView {
  state: SupervisorState = "ready";
  lastError: SupervisorError | null = null;
  progress: number | null = null;
  restarts = 0;
  issued = 0;
  ended = 0;
  progressCalls = 0;
  private readonly live = new Set<StaticTicket>();
  private readonly listeners = new Set<(event: SupervisorEvent) => void>();

  constructor(
    public endpoint: EngineEndpoint,
    private readonly modelId = "test-model",
  ) {}

  get inFlight(): number {
    return this.live.size;
  }

  setState(state: SupervisorState, lastError: SupervisorError | null = null): void {
    this.state = state;
    this.lastError = lastError;
  }

  /** Aborts every ticket's signal, as the supervisor does when the engine dies. */
  killInFlight(reason = "engine died"): void {
    for (const t of [...this.live]) t.kill(reason);
  }

  snapshot(): SupervisorSnapshot {
    return {
      state: this.state,
      progress: this.progress,
      progressDetail: null,
      engine: "sim",
      driver: "process",
      modelId: this.modelId,
      engineId: null,
      generation: this.endpoint.generation,
      restarts: this.restarts,
      inFlight: this.live.size,
      startedAt: null,
      readySince: null,
      lastError: this.lastError,
    };
  }

  /** One replica, as the runner's ReplicaSet reports REPLICAS=1. */
  replicaSnapshots(): ReplicaView[] {
    return [{ ...this.snapshot(), replica: 0, gpus: "all" }];
  }

  admit(): RequestTicket | null {
    if (this.state !== "ready") return null;
    const ticket = new StaticTicket(this.endpoint, this);
    this.live.add(ticket);
    this.issued += 1;
    return ticket;
  }

  engineEndpoint(): EngineEndpoint | null {
    return this.state === "ready" || this.state === "draining" ? this.endpoint : null;
  }

  on(listener: (event: SupervisorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** @internal */
  release(ticket: StaticTicket): void {
    if (this.live.delete(ticket)) this.ended += 1;
  }
}

class StaticTicket implements RequestTicket {
  private readonly controller = new AbortController();
  private done = false;

  constructor(
    readonly endpoint: EngineEndpoint,
    private readonly owner: StaticSupervisor,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  progress(): void {
    this.owner.progressCalls += 1;
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.owner.release(this);
  }

  kill(reason: string): void {
    this.controller.abort(new Error(reason));
  }
}

/** A complete Config for gateway tests; override what a test is about. */
export function gatewayTestConfig(overrides: Partial<Config> = {}): Config {
  return {
    modelId: "test-model",
    modelDir: null,
    router: "prefix",
    hfToken: null,
    use8bit: false,
    pipelineParallelSize: 1,
    tensorParallelSize: 1,
    maxModelLen: 8192,
    maxNumBatchedTokens: 8192,
    maxNumSeqs: 8,
    gpuMemoryUtilization: 0.97,
    host: "127.0.0.1",
    port: 0,
    authToken: null,
    queueSize: 8,
    maxBodyBytes: 1024 * 1024,
    runnerVersion: "0.14.1",
    corsOrigins: "*",
    gatewayWorkers: 1,
    liveRunner: {
      orchestratorUrl: null,
      secret: null,
      url: null,
      mode: "single-shot",
      priceUsdPerHour: null,
      label: null,
      app: "test-model",
      tlsInsecure: false,
    },
    allowedHosts: [],
    maxConnections: 2048,
    metricsAuth: false,
    engine: "sim",
    driver: "process",
    engineImage: "unused",
    gpuIds: "all",
    enginePort: 0,
    python: "python3",
    engineStallTimeoutMs: 300_000,
    engineHangTimeoutMs: 60_000,
    clientWriteTimeoutMs: 60_000,
    engineCanaryIntervalMs: 0,
    engineCanaryTimeoutMs: 30_000,
    engineHealthyResetMs: 600_000,
    engineCrashLoopLimit: 5,
    drainTimeoutMs: 30_000,
    stopGraceMs: 10_000,
    pricePerUnit: 0.08,
    pixelsPerUnit: 1_000_000,
    currency: "USD",
    home: "/nonexistent",
    logLevel: "error",
    tracing: null,
    sim: {},
    ...overrides,
  };
}
