import type { Hono } from "hono";
import { vllmSeriesOnly } from "../../metrics/engine-metrics.js";
import { renderLiveRunnerGauges } from "../../metrics/live-runner-gauges.js";
import { renderModelGauges } from "../../metrics/model-gauges.js";
import { renderProcessMetrics } from "../../metrics/process-metrics.js";
import { renderReplicaGauges } from "../../metrics/replica-gauges.js";
import { mergeReplicaSeries } from "../../metrics/replica-series.js";
import { ScrapeCache } from "../../metrics/scrape-cache.js";
import { renderSupervisorGauges } from "../../metrics/supervisor-gauges.js";
import type { EngineEndpoint } from "../../supervisor/types.js";
import type { RouteDeps } from "../gateway-deps.js";

// A scrape must not hang on a busy or dying engine: its series are skipped after this long.
const ENGINE_METRICS_TIMEOUT_MS = 1_000;
// The engine's series are read at most this often (per engine and HTTP process), however often /metrics is.
const ENGINE_METRICS_CACHE_MS = 2_000;

/**
 * GET /metrics: our llm_runner_* series, the supervisor's gauges, the gateway process's own (process_*,
 * nodejs_*, event-loop lag) and the engine's vllm:* series when ready.
 */
export function registerMetrics(app: Hono, deps: RouteDeps): void {
  const cache = new ScrapeCache(ENGINE_METRICS_CACHE_MS);
  app.get("/metrics", async (c) => {
    const snapshot = deps.supervisor.snapshot();
    const parts = await Promise.all([
      deps.metrics.render(),
      renderSupervisorGauges(snapshot, {
        inFlight: deps.admission.inFlight,
        queueDepth: deps.admission.queueDepth,
        capacity: deps.admission.capacity,
      }),
      renderReplicaGauges(deps.supervisor.replicaSnapshots?.() ?? []),
      renderModelGauges(deps.supervisor.models?.() ?? []),
      renderLiveRunnerGauges(deps.liveRunner.snapshot(), deps.liveRunner.offers?.()),
      deps.metrics.rendersProcess ? "" : renderProcessMetrics(),
      snapshot.state === "ready" ? engineSeries(deps, cache) : "",
    ]);
    return c.body(parts.map(endWithNewline).join(""), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    });
  });
}

async function engineSeries(deps: RouteDeps, cache: ScrapeCache): Promise<string> {
  const cached = (endpoint: EngineEndpoint) =>
    cache.get(`${endpoint.baseUrl} ${endpoint.generation}`, () => scrape(deps, endpoint));
  // REPLICAS: every ready engine's series, labelled `replica`, each family once.
  const replicas = deps.supervisor.replicaEndpoints?.() ?? [];
  if (replicas.length > 0) {
    const parts = await Promise.all(
      replicas.map(async ({ replica, endpoint }) => ({ replica, text: await cached(endpoint) })),
    );
    return mergeReplicaSeries(parts);
  }
  const endpoint = deps.supervisor.engineEndpoint();
  return endpoint === null ? "" : cached(endpoint);
}

async function scrape(deps: RouteDeps, endpoint: EngineEndpoint): Promise<string> {
  // A scrape is not a request: it takes no ticket, so /health stays IDLE while Prometheus polls.
  try {
    const signal = AbortSignal.timeout(ENGINE_METRICS_TIMEOUT_MS);
    const res = await deps.upstream.send({
      endpoint,
      method: "GET",
      path: "/metrics",
      signal,
    });
    const text = await res.text();
    return res.status === 200 ? vllmSeriesOnly(text) : "";
  } catch (err) {
    deps.logger.debug({ err }, "engine /metrics not read");
    return "";
  }
}

// prom-client's text ends without a newline; joined blocks need one between them.
function endWithNewline(text: string): string {
  return text === "" || text.endsWith("\n") ? text : `${text}\n`;
}
