// GATEWAY_WORKERS: how many processes serve HTTP. One (the default) serves in the runner's own process; more
// fork worker processes that share the port (Node's cluster) while the runner's process keeps the engines,
// admission and the reloads (src/instance/http-workers/).
import { availableParallelism } from "node:os";

/** The most worker processes accepted: each holds its own heap and engine connections. */
export const MAX_GATEWAY_WORKERS = 32;
/** "auto" takes one per core but one (the runner's own process supervises and admits), at most this many. */
export const AUTO_GATEWAY_WORKERS_CAP = 16;

/** GATEWAY_WORKERS resolved to a count: "auto" = cores − 1, at least 1, at most AUTO_GATEWAY_WORKERS_CAP. */
export function resolveGatewayWorkers(value: number | "auto", cores = availableParallelism()): number {
  if (value !== "auto") return value;
  return Math.max(1, Math.min(AUTO_GATEWAY_WORKERS_CAP, cores - 1));
}

/** A note when more workers than cores are asked for (they would only share the cores). */
export function gatewayWorkersNote(value: number | "auto", cores = availableParallelism()): string | null {
  if (value === "auto" || value <= cores) return null;
  return `GATEWAY_WORKERS=${value} is more than this machine's ${cores} cores: the workers share them, which adds memory and gains no speed. Set GATEWAY_WORKERS=auto (${resolveGatewayWorkers("auto", cores)} here) or at most ${cores}.`;
}

/** Each HTTP process's share of MAX_CONNECTIONS (the primary deals connections out round-robin), at least 1. */
export function connectionsPerProcess(maxConnections: number, workers: number): number {
  return Math.max(1, Math.floor(maxConnections / Math.max(1, workers)));
}
