// The messages between the runner's process (the primary: engines, admission, reloads) and its HTTP worker
// processes (GATEWAY_WORKERS > 1), over Node's cluster IPC channel. Plain JSON: no class crosses the channel.
import type { Config } from "../../config/types.js";
import type { LiveRunnerSnapshot } from "../../livepeer/live-runner/live-runner-agent.js";
import type { LivepeerHeaders, SessionVerdict } from "../../livepeer/live-runner/session-gate.js";
import type { SessionTotals } from "../../pricing/ledger.js";
import type { EngineEndpoint, ReplicaView, SupervisorSnapshot } from "../../supervisor/types.js";

/** What the primary's supervisor and admission look like; each worker answers /health, /ready, /metrics from it. */
export interface EnginesView {
  snapshot: SupervisorSnapshot;
  engineEndpoint: EngineEndpoint | null;
  readyEngines: number;
  readySlots: number;
  replicaEndpoints: Array<{ replica: number; endpoint: EngineEndpoint }>;
  replicaSnapshots: ReplicaView[];
  /** The primary's admission across every worker: requests holding or waiting for an engine slot. */
  admission: { inFlight: number; queueDepth: number; capacity: number };
  /** The Live Runner registration (LIVE_RUNNER_ORCH_URL set). */
  liveRunner?: LiveRunnerView;
}

export interface LiveRunnerView {
  snapshot: LiveRunnerSnapshot;
  /** The sessions the orchestrator reserved for this runner. */
  sessions: string[];
}

/** A GatewayError as it crosses the channel (the worker rebuilds it and answers with it). */
export interface WireGatewayError {
  status: number;
  code: string;
  message: string;
  retryAfter?: number;
}

export interface WorkerInit {
  config: Config;
  /** 1-based, for logs. */
  index: number;
  ledgerPath: string;
  /** The engines as the primary sees them when the worker starts. */
  view: EnginesView;
  fakeGpusFile: string | null;
}

export type ToWorker =
  | { t: "init"; init: WorkerInit }
  | { t: "view"; view: EnginesView }
  | { t: "granted"; id: number; endpoint: EngineEndpoint }
  | { t: "refused"; id: number; error: WireGatewayError }
  | { t: "abort"; id: number; reason: string }
  | { t: "collect"; id: number }
  | { t: "metrics"; id: number; text: string }
  | { t: "session-verdict"; id: number; verdict: SessionVerdict }
  | { t: "close" };

export type FromWorker =
  | { t: "hello" } // the worker's handlers are in place: send init
  | { t: "listening"; url: string }
  | { t: "listen-failed"; message: string }
  | { t: "acquire"; id: number; key?: string }
  | { t: "cancel"; id: number }
  | { t: "failed"; id: number }
  | { t: "release"; id: number }
  | { t: "progress"; ids: number[] }
  | { t: "backpressure"; held: number[]; resumed: number[] } // tickets a slow client now holds, or let go
  | { t: "totals"; totals: SessionTotals }
  | { t: "metrics-request"; id: number }
  | { t: "session-check"; id: number; headers: LivepeerHeaders }
  | { t: "metrics-json"; id: number; json: unknown[] }
  | {
      t: "log";
      level: LogLevel;
      bindings: Record<string, unknown>;
      obj: Record<string, unknown>;
      msg?: string;
    }
  | { t: "closed" };

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

/** Several messages sent as one (IpcBatcher), unpacked by forEachMessage. */
export interface Batch<M> {
  t: "batch";
  m: M[];
}

/** Calls `handle` for a message, or for each message of a batch. */
export function forEachMessage<M extends { t: string }>(raw: unknown, handle: (message: M) => void): void {
  if (typeof raw !== "object" || raw === null || !("t" in raw)) return;
  const message = raw as M | Batch<M>;
  if (message.t === "batch") for (const m of (message as Batch<M>).m) handle(m);
  else handle(message as M);
}
