import { runnerCapacity } from "../config/runner-capacity.js";
import type { Config } from "../config/types.js";

/**
 * One entry of go-livepeer's aiModels.json (core/ai.go AIModelConfig) for this runner as an external container:
 * the orchestrator sends /llm to `url` with `Authorization: Bearer <token>`, allows `capacity` requests at once,
 * and prices each at max_tokens × price_per_unit ÷ pixels_per_unit in `currency`. `warm` is advertised to gateways
 * as the model's ModelConstraint.Warm (cmd/livepeer/starter/starter.go), and gateways try warm orchestrators first
 * (server/ai_session.go AISessionSelector: warmPool before coldPool), go-livepeer @176aa415. An entry with a `url`
 * is registered as an external container whether warm or not (starter.go: `if config.Warm || config.URL != ""`
 * → AIWorker.Warm; ai/worker/worker.go borrowContainer finds it by pipeline and model_id), so a cold entry is still
 * served here: its first request wakes the model. Several models: one entry per model, each its own model_id,
 * capacity and price.
 */
export interface AiModelsEntry {
  pipeline: "llm";
  model_id: string;
  url: string;
  token?: string;
  capacity: number;
  price_per_unit: number;
  pixels_per_unit: number;
  currency: string;
  warm: boolean;
}

const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", "[::]", ""]);

/** The address an orchestrator on this machine reaches the gateway at: a wildcard HOST means loopback works. */
export function runnerUrl(config: Pick<Config, "host" | "port">): string {
  const host = WILDCARD_HOSTS.has(config.host) ? "127.0.0.1" : config.host;
  const shown = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return `http://${shown}:${config.port}`;
}

export function aiModelsEntry(
  config: Pick<
    Config,
    | "modelId"
    | "host"
    | "port"
    | "authToken"
    | "maxNumSeqs"
    | "pricePerUnit"
    | "pixelsPerUnit"
    | "currency"
    | "replicaSlots"
  >,
  options: {
    url?: string;
    token?: string;
    pricePerUnit?: number;
    /** Default true: the engine is loaded while the runner runs (a swap group's model may be asleep). */
    warm?: boolean;
  } = {},
): AiModelsEntry {
  const token = options.token ?? config.authToken;
  return {
    pipeline: "llm",
    model_id: config.modelId,
    url: options.url ?? runnerUrl(config),
    ...(token === null ? {} : { token }),
    capacity: runnerCapacity(config),
    price_per_unit: options.pricePerUnit ?? config.pricePerUnit,
    pixels_per_unit: config.pixelsPerUnit,
    currency: config.currency,
    warm: options.warm ?? true,
  };
}
