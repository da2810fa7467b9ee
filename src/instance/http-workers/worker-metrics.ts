// /metrics with several HTTP workers: each worker counts what it served; a scrape (which lands on any one worker)
// asks the primary, which collects every worker's series as JSON and sums them with prom-client's aggregator
// (counters and histograms add up; llm_runner_build_info and the process gauges use their own aggregators, and the
// start time and fd limit ours).
import { AggregatorRegistry } from "prom-client";
import type { GatewayMetrics } from "../../metrics/gateway-metrics.js";

// prom-client omits a start time and sums a limit; the runner's gateway started with its first worker, and every
// worker has the same file-descriptor limit.
const PROCESS_AGGREGATORS: Readonly<Record<string, string>> = {
  process_start_time_seconds: "min",
  process_max_fds: "min",
};

/** Every worker's series, merged into one Prometheus text. */
export function mergeWorkerSeries(perWorker: unknown[][]): Promise<string> {
  const withAggregators = perWorker.map((metrics) =>
    metrics.map((m) => {
      const name = (m as { name?: unknown }).name;
      const aggregator = typeof name === "string" ? PROCESS_AGGREGATORS[name] : undefined;
      return aggregator === undefined ? m : { ...(m as object), aggregator };
    }),
  );
  // biome-ignore lint/suspicious/noExplicitAny: prom-client types the JSON as its own metric objects
  return AggregatorRegistry.aggregate(withAggregators as any).metrics();
}

/** A worker's metrics: recorded locally, rendered merged over all workers (through `merged`). */
export function workerMetrics(local: GatewayMetrics, merged: () => Promise<string>): GatewayMetrics {
  return {
    response: (route, code) => local.response(route, code),
    timeToFirstToken: (route, seconds) => local.timeToFirstToken(route, seconds),
    interTokenGap: (route, seconds) => local.interTokenGap(route, seconds),
    finished: (request) => local.finished(request),
    routeDecision: (policy, reason) => local.routeDecision(policy, reason),
    json: () => local.json(),
    render: merged,
    rendersProcess: true,
  };
}
