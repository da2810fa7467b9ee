// The messages between the runner's process (the primary: engines, admission, reloads) and its HTTP worker
// processes (GATEWAY_WORKERS > 1), over Node's cluster IPC channel. Plain JSON: no class crosses the channel.
// A request carries an id that its reply repeats (`…-request` one way, `…-reply` or the slot's answer the other).
import type { Config } from "../../config/types.js";
import { GatewayError } from "../../gateway/http/gateway-error.js";
import type { LiveRunnerSnapshot } from "../../livepeer/live-runner/live-runner-agent.js";
import type { LivepeerHeaders, SessionVerdict } from "../../livepeer/live-runner/session-gate.js";
import type { SessionTotals } from "../../pricing/ledger.js";
import type { RouteDecision, RouteHint } from "../../supervisor/routing/route-decision.js";
import type {
  EngineEndpoint,
  ModelFigures,
  ReplicaView,
  SupervisorSnapshot,
} from "../../supervisor/types.js";

/** One set of engines and its admission as the primary sees them: the runner's, or (several models) one model's. */
export interface ReplicasView {
  snapshot: SupervisorSnapshot;
  engineEndpoint: EngineEndpoint | null;
  readyEngines: number;
  readySlots: number;
  replicaEndpoints: Array<{ replica: number; endpoint: EngineEndpoint }>;
  replicaSnapshots: ReplicaView[];
  /** The primary's admission across every worker: requests holding or waiting for an engine slot. */
  admission: AdmissionFigures;
}

/** What the primary's supervisor and admission look like; each worker answers /health, /ready, /metrics from it. */
export interface EnginesView extends ReplicasView {
  /** The Live Runner registration (LIVE_RUNNER_ORCH_URL set). */
  liveRunner?: LiveRunnerView;
  /**
   * Several models (LLM_RUNNER_MODELS_FILE): each model's engines and admission, in the order of WorkerInit.models
   * (the worker routes each model's requests by it); the top-level fields are then every model's, folded.
   */
  models?: ReplicasView[];
  /** Several models: each one's figures (state with sleep mode, wakes, ...), for llm_runner_model_* on /metrics. */
  figures?: ModelFigures[];
}

export interface AdmissionFigures {
  inFlight: number;
  queueDepth: number;
  capacity: number;
}

export interface LiveRunnerView {
  snapshot: LiveRunnerSnapshot;
  /** The sessions the orchestrator reserved for this runner. */
  sessions: string[];
  /** Several models: each model's own registration and sessions (`snapshot` is then the default model's). */
  offers?: OfferView[];
}

/** One model's registration (several models, each its own offer). */
export interface OfferView {
  model: string;
  snapshot: LiveRunnerSnapshot;
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
  /** The runner's config (several models: the default model's), without `models` (plain JSON). */
  config: Config;
  /** Several models: each model's config (the default first), without `models`; slot requests name its index. */
  models?: Config[];
  /** 1-based, for logs. */
  index: number;
  ledgerPath: string;
  /** The engines as the primary sees them when the worker starts. */
  view: EnginesView;
  fakeGpusFile: string | null;
}

export type PrimaryToWorker =
  | { type: "init"; init: WorkerInit }
  | { type: "view"; view: EnginesView }
  | { type: "slot-granted"; id: number; endpoint: EngineEndpoint; route?: RouteDecision }
  | { type: "slot-refused"; id: number; error: WireGatewayError }
  | { type: "slot-aborted"; id: number; reason: string } // the engine died: the worker's request ends
  | { type: "series-request"; id: number } // the worker's own metrics, for a merged scrape
  | { type: "metrics-reply"; id: number; text: string }
  | { type: "session-reply"; id: number; verdict: SessionVerdict }
  | { type: "close" };

export type WorkerToPrimary =
  | { type: "hello" } // the worker's handlers are in place: send init
  | { type: "listening"; url: string }
  | { type: "listen-failed"; message: string }
  // key: the affinity key; blocks: the prompt's block chain, base64 of its int32s (≤ 1,368 characters).
  // model (several models only): the index of the model in WorkerInit.models; absent: the runner's one model.
  | { type: "slot-request"; id: number; key?: string; blocks?: string; model?: number }
  | { type: "slot-cancel"; id: number }
  | { type: "slot-failed"; id: number }
  | { type: "slot-release"; id: number }
  | { type: "progress"; ids: number[] }
  | { type: "backpressure"; held: number[]; resumed: number[] } // tickets a slow client now holds, or let go
  | { type: "totals"; totals: SessionTotals }
  | { type: "metrics-request"; id: number } // every worker's metrics, merged
  | { type: "series-reply"; id: number; json: unknown[] }
  | { type: "session-request"; id: number; headers: LivepeerHeaders }
  | {
      type: "log";
      level: LogLevel;
      bindings: Record<string, unknown>;
      obj: Record<string, unknown>;
      msg?: string;
    }
  | { type: "closed" };

/** A worker's messages about engine slots (remote-admission.ts to admission-host.ts). */
export type SlotRequest = Extract<
  WorkerToPrimary,
  { type: "slot-request" | "slot-cancel" | "slot-release" | "slot-failed" | "progress" | "backpressure" }
>;

/** The primary's answers about slots. */
export type SlotReply = Extract<PrimaryToWorker, { type: "slot-granted" | "slot-refused" | "slot-aborted" }>;

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

/** A route hint as it crosses the channel: the block chain as base64 (4 bytes a block, little-endian). */
export function hintToWire(hint: RouteHint | undefined): { key?: string; blocks?: string } {
  const out: { key?: string; blocks?: string } = {};
  if (hint?.affinity !== undefined) out.key = hint.affinity;
  const blocks = hint?.blocks;
  if (blocks !== undefined && blocks.length > 0)
    out.blocks = Buffer.from(blocks.buffer, blocks.byteOffset, blocks.byteLength).toString("base64");
  return out;
}

/** The route hint of a slot request (a chain that is not whole int32s is ignored). */
export function hintFromWire(m: { key?: string; blocks?: string }): RouteHint {
  const hint: RouteHint = {};
  if (typeof m.key === "string") hint.affinity = m.key;
  if (typeof m.blocks === "string") {
    const bytes = Buffer.from(m.blocks, "base64");
    if (bytes.length > 0 && bytes.length % 4 === 0) {
      const copy = new Uint8Array(bytes); // its own aligned buffer
      hint.blocks = new Int32Array(copy.buffer);
    }
  }
  return hint;
}

/** What a side does with each message it receives, one handler per type. */
export type MessageTable<M extends { type: string }> = {
  [K in M["type"]]: (message: Extract<M, { type: K }>) => void;
};

/** Hands a message to its handler. */
export function dispatch<M extends { type: string }>(table: MessageTable<M>, message: M): void {
  (table[message.type as M["type"]] as (m: M) => void)(message);
}

/** Several messages sent as one (IpcBatcher), unpacked by forEachMessage. */
export interface Batch<M> {
  type: "batch";
  messages: M[];
}

/** Calls `handle` for a message, or for each message of a batch. */
export function forEachMessage<M extends { type: string }>(raw: unknown, handle: (message: M) => void): void {
  if (typeof raw !== "object" || raw === null || !("type" in raw)) return;
  const message = raw as M | Batch<M>;
  if (message.type === "batch") for (const m of (message as Batch<M>).messages) handle(m);
  else handle(message as M);
}

export function toWire(error: GatewayError): WireGatewayError {
  return {
    status: error.status,
    code: error.code,
    message: error.message,
    ...(error.retryAfter !== undefined ? { retryAfter: error.retryAfter } : {}),
  };
}

export function fromWire(error: WireGatewayError): GatewayError {
  return new GatewayError(
    error.status,
    error.code,
    error.message,
    error.retryAfter !== undefined ? { retryAfter: error.retryAfter } : {},
  );
}
