// What a Supervisor is built with: the engine to run and its timings (options), and the adapters (deps).
import type { EngineDriver, ListenAddress } from "../engine/engine-driver.js";
import type { Logger } from "../log/logger.js";
import type { Clock } from "./clock.js";
import type { EngineCanary } from "./engine-canary.js";
import type { EngineProbe } from "./engine-probe.js";
import type { HealthWatchOptions } from "./health-watch.js";
import type { RestartPolicy } from "./restart-policy.js";

/** The engine to run and its timings; the health timings are HealthWatchOptions (health-watch.ts). */
export interface SupervisorOptions extends HealthWatchOptions {
  instanceId: string;
  engine: "vllm" | "sim";
  buildArgs(listen: ListenAddress): string[];
  /** Engine environment without the API key (the supervisor adds a fresh VLLM_API_KEY per start). */
  env: Record<string, string>;
  drainTimeoutMs: number;
  stopGraceMs: number;
  restart?: Partial<RestartPolicy>;
  /** This engine's replica index (default 0). */
  replica?: number;
  /** Generations continue from here (a replica rebuilt by a reload): the gateway never reuses old sockets. */
  generationBase?: number;
  /** Sweep orphaned engines on start and stop (default true); a ReplicaSet sweeps once for all its replicas. */
  sweepOrphans?: boolean;
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
