// One entry of the orchestrator's runners.json (go-livepeer -liveRunnerConfig, ai/runner/live_runner.go
// StaticLiveRunnerConfigEntry): a Live Runner the operator registers by hand. The orchestrator GETs health_url
// every 5 s (3 s timeout) and takes any status but healthy_status_code as down, releasing its sessions.
import { runnerCapacity } from "../../config/runner-capacity.js";
import type { Config } from "../../config/types.js";
import type { LiveRunnerGpu } from "./heartbeat-wire.js";

export interface StaticRunnerEntry {
  label: string;
  runner_url: string;
  /**
   * Relative to runner_url: /live-runner answers 200 exactly when a heartbeat would say "ready" (several models:
   * /live-runner?model=ID, that model's own).
   */
  health_url: string;
  healthy_status_code: 200;
  app: string;
  version: string;
  mode: "single-shot" | "persistent";
  capacity: number;
  price_info: { price?: number; currency: "usd"; unit: "hour" };
  gpu?: LiveRunnerGpu;
}

export const LIVE_RUNNER_HEALTH_PATH = "/live-runner";

export function staticRunnerEntry(
  config: Pick<Config, "liveRunner" | "maxNumSeqs" | "replicaSlots">,
  options: {
    label: string;
    runnerUrl: string;
    version: string;
    priceUsdPerHour: number | null;
    gpu: LiveRunnerGpu | null;
    /** Several models: the model this entry offers (its health_url asks for it alone). */
    model?: string;
  },
): StaticRunnerEntry {
  return {
    label: options.label,
    runner_url: options.runnerUrl,
    health_url: options.model === undefined ? LIVE_RUNNER_HEALTH_PATH : modelHealthPath(options.model),
    healthy_status_code: 200,
    app: config.liveRunner.app,
    version: options.version,
    mode: config.liveRunner.mode,
    // What the runner serves with every replica ready: a static entry is not updated as replicas come and go.
    capacity: runnerCapacity(config),
    price_info: {
      ...(options.priceUsdPerHour === null ? {} : { price: options.priceUsdPerHour }),
      currency: "usd",
      unit: "hour",
    },
    ...(options.gpu ? { gpu: options.gpu } : {}),
  };
}

/** A label go-livepeer takes (trimmed, non-empty, no "/" so it can also be used as a route). */
export function defaultLabel(hostname: string): string {
  const host = hostname.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "node";
  return `llm-runner-${host}`;
}

/**
 * A model's health_url: go-livepeer appends a root-relative health_url to runner_url as it is
 * (ai/runner/live_runner.go staticRunnerHealthURL, @176aa415), so the query reaches /live-runner.
 */
export function modelHealthPath(model: string): string {
  return `${LIVE_RUNNER_HEALTH_PATH}?model=${encodeURIComponent(model)}`;
}

/**
 * Several models: each entry's label, the runner's label and the model's id in go-livepeer's label alphabet.
 * go-livepeer refuses a runners.json whose labels repeat (RegisterStaticRunners: "duplicate label"), so a clash
 * gets the model's position added.
 */
export function modelLabels(label: string, models: readonly string[]): string[] {
  const seen = new Set<string>();
  return models.map((id, k) => {
    const slug = id.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || `m${k}`;
    let out = `${label}-${slug}`;
    if (seen.has(out)) out = `${out}-${k}`;
    seen.add(out);
    return out;
  });
}
