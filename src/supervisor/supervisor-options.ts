// What a Supervisor is built with: the engine to run and its timings (options), and the adapters (deps).
import type { EngineDriver, ListenAddress } from "../engine/engine-driver.js";
import type { Logger } from "../log/logger.js";
import type { Clock } from "./clock.js";
import type { EngineCanary } from "./engine-canary.js";
import type { EngineProbe } from "./engine-probe.js";
import type { RestartPolicy } from "./restart-policy.js";

export interface SupervisorOptions {
  instanceId: string;
  engine: "vllm" | "sim";
  modelId: string;
  buildArgs(listen: ListenAddress): string[];
  /** Engine environment without the API key (the supervisor adds a fresh VLLM_API_KEY per start). */
  env: Record<string, string>;
  stallTimeoutMs: number;
  hangTimeoutMs: number;
  drainTimeoutMs: number;
  stopGraceMs: number;
  readinessPollMs?: number; // 300
  livenessIntervalMs?: number; // 5000
  livenessFailures?: number; // 2 failed probes in a row = dead
  probeTimeoutMs?: number; // 2000
  canaryIntervalMs?: number; // ENGINE_CANARY_INTERVAL: idle time before a canary generation; 0/absent = off
  canaryTimeoutMs?: number; // ENGINE_CANARY_TIMEOUT (30000)
  restart?: Partial<RestartPolicy>;
}

export interface SupervisorDeps {
  driver: EngineDriver;
  clock: Clock;
  logger: Logger;
  probe: EngineProbe;
  /** Needed when canaryIntervalMs > 0. */
  canary?: EngineCanary;
  randomKey?: () => string;
}
