import type { Config } from "./types.js";

/**
 * How many requests the runner really works on at once: MAX_NUM_SEQS per engine replica (QUEUE_SIZE only waits).
 * This is the `capacity` an orchestrator is told (go-livepeer counts it as concurrent requests for an external
 * runner).
 */
export function runnerCapacity(config: Pick<Config, "maxNumSeqs" | "replicaSlots">): number {
  return config.maxNumSeqs * (config.replicaSlots?.length ?? 1);
}
