// The gateway process's own health: CPU, memory (RSS, heap), GC pauses, open handles and the event-loop lag
// (prom-client's default metrics: process_*, nodejs_*). Event-loop lag is the gateway's first sign of
// overload: every relayed token waits for the loop. One collector per process, made on first use, since the
// lag and GC monitors are process-wide.
import { collectDefaultMetrics, Registry } from "prom-client";

let registry: Registry | null = null;

function processRegistry(): Registry {
  if (!registry) {
    registry = new Registry();
    // 10 ms sampling resolution for the event-loop delay histogram (prom-client's default too).
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  }
  return registry;
}

/** process_* and nodejs_* series in Prometheus text. */
export function renderProcessMetrics(): Promise<string> {
  return processRegistry().metrics();
}

/** The same series as prom-client's JSON, for merging several processes' (GATEWAY_WORKERS). */
export function processMetricsJson(): Promise<unknown[]> {
  return processRegistry().getMetricsAsJSON();
}
