// What a Supervisor is built with: the engine to run and its timings (options), and the adapters (deps).
import type { EngineDriver, ListenAddress } from "../engine/engine-driver.js";
import type { Logger } from "../log/logger.js";
import type { CanaryClient } from "./canary-client.js";
import type { Clock } from "./clock.js";
import type { EngineProbe } from "./engine-probe.js";
import type { EngineSleepClient, SleepLevel } from "./engine-sleep.js";
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
  /**
   * vLLM's sleep mode (a model of a swap group): the level sleep() uses, and how long a sleep or a wake may take
   * before the engine is called down and restarted. Absent: the engine never sleeps.
   */
  sleepMode?: { level: SleepLevel; timeoutMs: number };
}

export interface SupervisorDeps {
  driver: EngineDriver;
  clock: Clock;
  logger: Logger;
  probe: EngineProbe;
  /** Needed when canaryIntervalMs > 0. */
  canary?: CanaryClient;
  randomKey?: () => string;
  /** Needed with options.sleepMode. */
  sleep?: EngineSleepClient;
  /**
   * Awaited before each restart spawns an engine (not the first start): a swap group makes room on its GPUs
   * first, since a new engine loads awake (model-set.ts).
   */
  beforeRestart?: () => Promise<void>;
}
