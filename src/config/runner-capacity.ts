import type { Config } from "./types.js";

/**
 * How many requests the runner really works on at once: the engine's MAX_NUM_SEQS (QUEUE_SIZE only waits).
 * This is the `capacity` an orchestrator is told (go-livepeer counts it as concurrent requests for an external
 * runner); the one place to change when the runner gains replicas.
 */
export function runnerCapacity(config: Pick<Config, "maxNumSeqs">): number {
  return config.maxNumSeqs;
}
