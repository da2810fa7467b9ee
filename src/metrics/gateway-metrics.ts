// On prom-client, the Node ecosystem's Prometheus client. The two histograms observed on every engine read (TTFT,
// inter-token gap) are RouteHistograms, plain bucket arrays rendered by the same Registry at scrape time, because
// Histogram.observe is too costly there.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { ROUTE_REASONS, type RouterPolicy } from "../supervisor/routing/route-decision.js";
import { VERSION } from "../version.js";
import { RouteHistogram } from "./route-histogram.js";

/** How one priced request ended (the ledger's status). */
export type RequestOutcomeStatus = "ok" | "client_abort" | "engine_error" | "rejected";

export interface FinishedRequest {
  route: string;
  outcome: RequestOutcomeStatus;
  promptTokens: number;
  completionTokens: number;
  quote: number;
  usagePrice: number;
  currency: string;
  /** Seconds from arrival to the end; null for requests rejected before the engine saw them. */
  e2eSeconds: number | null;
}

/** What the gateway reports while it serves; rendered on GET /metrics. */
export interface GatewayMetrics {
  /** Every HTTP response, by route and status code (for streams: the status sent with the headers). */
  response(route: string, code: number): void;
  timeToFirstToken(route: string, seconds: number): void;
  interTokenGap(route: string, seconds: number): void;
  finished(request: FinishedRequest): void;
  /** The replica router's decision for an admitted request (the ticket's `route`). */
  routeDecision(policy: string, reason: string): void;
  /** Our series in Prometheus text (llm_runner_*). */
  render(): Promise<string>;
  /** The same series as prom-client's JSON, for merging several processes' counts (GATEWAY_WORKERS). */
  json(): Promise<unknown[]>;
  /** True when render() already holds the process and nodejs series (merged over the HTTP workers). */
  readonly rendersProcess?: boolean;
}

// vLLM's own vllm:time_to_first_token_seconds bounds (vllm/v1/metrics/loggers.py, PrometheusStatLogger), so a queue of
// minutes lands in a bucket and the gateway's TTFT reads against the engine's bucket by bucket.
export const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640,
  2560,
];
const ITL_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1, 2.5];
const E2E_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** `router`: the ROUTER policy, whose decision reasons start at 0 (a counter that exists before its first event). */
export function createGatewayMetrics(options: { router?: RouterPolicy } = {}): GatewayMetrics {
  // One registry per gateway: tests and several gateways in one process never share counts.
  const registry = new Registry();
  const registers = [registry];
  // llm-runner's own version (/version answers the AI-runner contract version instead).
  new Gauge({
    name: "llm_runner_build_info",
    help: "Always 1; the version label is llm-runner's own version.",
    labelNames: ["version"] as const,
    registers,
    aggregator: "first", // one per runner, however many HTTP workers report it
  }).set({ version: VERSION }, 1);
  const responses = new Counter({
    name: "llm_runner_http_responses_total",
    help: "HTTP responses by route and status code.",
    labelNames: ["route", "code"] as const,
    registers,
  });
  const requests = new Counter({
    name: "llm_runner_requests_total",
    help: "Priced requests by route and outcome (ok, client_abort, engine_error, rejected).",
    labelNames: ["route", "outcome"] as const,
    registers,
  });
  const ttft = new RouteHistogram({
    name: "llm_runner_time_to_first_token_seconds",
    help: "Time from arrival to the first token.",
    labelName: "route",
    buckets: TTFT_BUCKETS,
    registers,
  });
  const itl = new RouteHistogram({
    name: "llm_runner_inter_token_gap_seconds",
    help: "Time between consecutive tokens relayed to the client.",
    labelName: "route",
    buckets: ITL_BUCKETS,
    registers,
  });
  const e2e = new Histogram({
    name: "llm_runner_e2e_request_latency_seconds",
    help: "Time from arrival to the end of requests the engine served.",
    labelNames: ["route", "outcome"] as const,
    buckets: E2E_BUCKETS,
    registers,
  });
  const promptTokens = new Counter({
    name: "llm_runner_prompt_tokens_total",
    help: "Prompt tokens of served requests.",
    labelNames: ["route"] as const,
    registers,
  });
  const completionTokens = new Counter({
    name: "llm_runner_completion_tokens_total",
    help: "Completion tokens relayed to clients.",
    labelNames: ["route"] as const,
    registers,
  });
  const quoted = new Counter({
    name: "llm_runner_quoted_revenue_total",
    help: "Sum of max_tokens quotes of served requests (max_tokens x PRICE_PER_UNIT / PIXELS_PER_UNIT).",
    labelNames: ["route", "currency"] as const,
    registers,
  });
  const usage = new Counter({
    name: "llm_runner_usage_revenue_total",
    help: "Sum of usage-based prices of served requests (completion_tokens x PRICE_PER_UNIT / PIXELS_PER_UNIT).",
    labelNames: ["route", "currency"] as const,
    registers,
  });
  const routes = new Counter({
    name: "llm_runner_route_decisions_total",
    help: "Requests routed to a replica, by ROUTER policy and reason (prefix_hit, load, sticky, fallback).",
    labelNames: ["policy", "reason"] as const,
    registers,
  });
  const router = options.router;
  if (router !== undefined) for (const reason of ROUTE_REASONS) routes.inc({ policy: router, reason }, 0);

  return {
    response: (route, code) => responses.inc({ route, code: String(code) }),
    timeToFirstToken: (route, seconds) => ttft.observe(route, seconds),
    interTokenGap: (route, seconds) => itl.observe(route, seconds),
    finished(r) {
      requests.inc({ route: r.route, outcome: r.outcome });
      if (r.outcome === "rejected") return;
      if (r.e2eSeconds !== null) e2e.observe({ route: r.route, outcome: r.outcome }, r.e2eSeconds);
      promptTokens.inc({ route: r.route }, r.promptTokens);
      completionTokens.inc({ route: r.route }, r.completionTokens);
      quoted.inc({ route: r.route, currency: r.currency }, r.quote);
      usage.inc({ route: r.route, currency: r.currency }, r.usagePrice);
    },
    routeDecision: (policy, reason) => routes.inc({ policy, reason }),
    render: () => registry.metrics(),
    json: () => registry.getMetricsAsJSON(),
  };
}
