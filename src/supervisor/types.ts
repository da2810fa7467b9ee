// What the supervisor shows the rest of the system (gateway, /health, /metrics, CLI).
// The implementation is src/supervisor/supervisor.ts; the gateway depends only on these types.
import type { FatalReason } from "../protocol/lifecycle.js";
import type { RouteDecision, RouteHint } from "./routing/route-decision.js";

export type SupervisorState =
  | "stopped"
  | "starting" // preflight, image, container/process being created
  | "loading" // engine up, not ready yet (progress known from lifecycle lines)
  | "ready"
  | "draining" // stop requested: no new admissions, in-flight work finishing
  | "restarting" // engine died or hung; waiting for backoff before the next start
  | "failed"; // crash-loop limit reached, or a fatal start error: needs the operator

export interface EngineEndpoint {
  /** e.g. http://127.0.0.1:41233 */
  baseUrl: string;
  /** The engine's random per-start API key (send as "Authorization: Bearer <key>"). Secret. */
  apiKey: string;
  /** Increments on every engine start; lets the gateway drop pooled connections of a dead engine. */
  generation: number;
  /** Which replica's engine this is (REPLICAS); generations count per replica. Absent: 0. */
  replica?: number;
}

/**
 * The supervisor's own reasons, beside the runtime's FatalReason (protocol/lifecycle.ts), and whether a restart can
 * cure each when it comes while loading: the driver could not start the engine at all (image missing, bad path) is
 * the operator's to fix.
 */
export const SUPERVISOR_REASON_RETRYABLE = {
  crash: true, // the engine exited without being asked (any exit code)
  crash_loop: false, // crashLoopLimit failures in a row: the supervisor gave up
  stall_timeout: true, // no sign of life for ENGINE_STALL_TIMEOUT while loading
  hang: true, // in-flight watchdog or canary: no token although /health said OK
  unhealthy: true, // /health failed livenessFailures times in a row
  start_failed: false, // the driver could not start the engine
  pull_failed: false, // the model could not be downloaded before the engine's start
  sleep_failed: true, // vLLM's sleep mode: POST /sleep failed or timed out (the engine is restarted)
  wake_failed: true, // POST /wake_up (or the level-2 weight reload) failed or timed out: restarted like a crash
} as const satisfies Record<string, boolean>;
export type SupervisorReason = keyof typeof SUPERVISOR_REASON_RETRYABLE;
export type FailureReason = FatalReason | SupervisorReason;

export interface SupervisorError {
  reason: FailureReason;
  message: string;
  hint?: string;
  /** The last log lines of the engine (up to 50). */
  logTail: string[];
  at: string; // ISO time
}

export interface SupervisorSnapshot {
  state: SupervisorState;
  /** Loading progress 0..1 while loading, when the engine reports it. */
  progress: number | null;
  progressDetail: string | null;
  engine: "vllm" | "sim";
  driver: "docker" | "process";
  modelId: string;
  engineId: string | null; // container id or pid
  generation: number;
  restarts: number;
  inFlight: number;
  startedAt: string | null; // supervisor start
  readySince: string | null;
  lastError: SupervisorError | null;
  /** Canary probe counts (present when ENGINE_CANARY_INTERVAL > 0). */
  canary?: CanaryFigures;
  /** vLLM's sleep mode (an engine of a swap group, LLM_RUNNER_MODELS_FILE): where the engine stands. */
  sleep?: SleepState;
}

/** An engine in sleep mode: awake, going to sleep, asleep (GPU memory freed), or waking. */
export type SleepState = "awake" | "falling_asleep" | "asleep" | "waking";

/** The canary's counts (canary-watch.ts), in the snapshot. */
export interface CanaryFigures {
  /** Canary requests sent since the supervisor started. */
  sent: number;
  ok: number;
  /** The engine answered with an error (not a hang: /health and the crash handling deal with a dead engine). */
  errors: number;
  /** No token in time while nothing else flowed: the engine was called hung and restarted. */
  timeouts: number;
  /** Time to the canary's token, last success (ms). */
  lastLatencyMs: number | null;
}

export type SupervisorEvent =
  | { type: "state"; from: SupervisorState; to: SupervisorState; snapshot: SupervisorSnapshot }
  | { type: "progress"; progress: number | null; detail: string }
  | { type: "log"; line: string; stream: "stdout" | "stderr" }
  | { type: "error"; error: SupervisorError }
  | { type: "sleep"; state: SleepState };

/**
 * A ticket for one request in flight at the engine. The supervisor counts tickets (IDLE vs OK, drain) and
 * watches progress on them (hang watchdog). Always call end(), exactly once (extra calls are ignored).
 */
export interface RequestTicket {
  /** Call whenever bytes arrive from the engine for this request. */
  progress(): void;
  /**
   * The gateway stopped (true) or went back to (false) reading this request's engine stream because its client
   * is not taking what was sent: no engine bytes are expected meanwhile, so the hang watchdog does not count it.
   */
  backpressure?(on: boolean): void;
  end(): void;
  /** The engine failed this request (connection error, 5xx, death): its replica gets nothing new for now. */
  failed?(): void;
  /** Aborted when the engine this request uses dies, hangs or is stopped. */
  readonly signal: AbortSignal;
  readonly endpoint: EngineEndpoint;
  /** Why this replica was chosen (REPLICAS: policy, reason, replica, matched blocks); absent for one engine. */
  readonly route?: RouteDecision;
}

/** The part of the supervisor the gateway uses. */
export interface SupervisorView {
  snapshot(): SupervisorSnapshot;
  /** A ticket when ready and admitting; null otherwise (not ready, draining, failed). */
  admit(): RequestTicket | null;
  /**
   * A ticket on a replica with a free slot (MAX_NUM_SEQS), waiting in arrival order for the first one to free
   * when all are full; null when no replica is ready (or the runner stops); rejects when `signal` aborts.
   * Absent: one engine, admit() at once (the engine queues). `hint`: an affinity key (requests with the same key go
   * to the same replica while it is ready and has room) and the prompt's block chain (ROUTER=prefix).
   */
  acquire?(signal?: AbortSignal, hint?: RouteHint): Promise<RequestTicket | null>;
  /** The engine's address for side calls that are not requests (metrics scrape); null unless ready/draining. */
  engineEndpoint(): EngineEndpoint | null;
  on(listener: (event: SupervisorEvent) => void): () => void;
  /** How many engines are ready (REPLICAS); absent: one engine. Admission capacity scales with it. */
  readyEngines?(): number;
  /** Σ MAX_NUM_SEQS of the ready engines (REPLICAS; they may differ mid-reload); absent: one engine's. */
  readySlots?(): number;
  /** The ready replicas' engines (REPLICAS > 1), for the per-replica vllm:* scrape; absent or []: one engine. */
  replicaEndpoints?(): Array<{ replica: number; endpoint: EngineEndpoint }>;
  /** Each replica's own snapshot (one with REPLICAS=1), for the per-replica /metrics series. */
  replicaSnapshots?(): ReplicaView[];
  /** Several models (LLM_RUNNER_MODELS_FILE): each model's figures (model-set.ts); absent: one model. */
  models?(): ModelFigures[];
}

/** One replica as /metrics and status show it. */
export interface ReplicaView extends SupervisorSnapshot {
  replica: number;
  gpus: string;
}

/** What a model's state reads as on status, /metrics and heartbeats. */
export type ModelState = "awake" | "asleep" | "waking" | "falling_asleep" | SupervisorState;

export interface ModelFigures {
  id: string;
  group: string | null;
  /** Its engines' state, with sleep mode on top while they are ready. */
  state: ModelState;
  /** When a request last asked for it (ISO), null if never. */
  lastUsed: string | null;
  wakes: number;
  sleeps: number;
  /** The last wake's duration (ms), null if it never woke. */
  lastWakeMs: number | null;
  /** Every wake's duration added up (s). */
  wakeSecondsTotal: number;
  /** Requests admitted or waiting for it now. */
  active: number;
}
