import { Counter, Histogram, Registry } from "./registry.js";

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
  /** Our series in Prometheus text (llm_runner_*). */
  render(): string;
}

const TTFT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const ITL_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1, 2.5];
const E2E_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export function createGatewayMetrics(): GatewayMetrics {
  const registry = new Registry();
  const responses = registry.add(
    new Counter("llm_runner_http_responses_total", "HTTP responses by route and status code.", [
      "route",
      "code",
    ]),
  );
  const requests = registry.add(
    new Counter(
      "llm_runner_requests_total",
      "Priced requests by route and outcome (ok, client_abort, engine_error, rejected).",
      ["route", "outcome"],
    ),
  );
  const ttft = registry.add(
    new Histogram(
      "llm_runner_time_to_first_token_seconds",
      "Time from arrival to the first token.",
      ["route"],
      TTFT_BUCKETS,
    ),
  );
  const itl = registry.add(
    new Histogram(
      "llm_runner_inter_token_gap_seconds",
      "Time between consecutive tokens relayed to the client.",
      ["route"],
      ITL_BUCKETS,
    ),
  );
  const e2e = registry.add(
    new Histogram(
      "llm_runner_e2e_request_latency_seconds",
      "Time from arrival to the end of requests the engine served.",
      ["route", "outcome"],
      E2E_BUCKETS,
    ),
  );
  const promptTokens = registry.add(
    new Counter("llm_runner_prompt_tokens_total", "Prompt tokens of served requests.", ["route"]),
  );
  const completionTokens = registry.add(
    new Counter("llm_runner_completion_tokens_total", "Completion tokens relayed to clients.", ["route"]),
  );
  const quoted = registry.add(
    new Counter(
      "llm_runner_quoted_revenue_total",
      "Sum of max_tokens quotes of served requests (max_tokens x PRICE_PER_UNIT / PIXELS_PER_UNIT).",
      ["route", "currency"],
    ),
  );
  const usage = registry.add(
    new Counter(
      "llm_runner_usage_revenue_total",
      "Sum of usage-based prices of served requests (completion_tokens x PRICE_PER_UNIT / PIXELS_PER_UNIT).",
      ["route", "currency"],
    ),
  );

  return {
    response: (route, code) => responses.inc([route, String(code)]),
    timeToFirstToken: (route, seconds) => ttft.observe([route], seconds),
    interTokenGap: (route, seconds) => itl.observe([route], seconds),
    finished(r) {
      requests.inc([r.route, r.outcome]);
      if (r.outcome === "rejected") return;
      if (r.e2eSeconds !== null) e2e.observe([r.route, r.outcome], r.e2eSeconds);
      promptTokens.inc([r.route], r.promptTokens);
      completionTokens.inc([r.route], r.completionTokens);
      quoted.inc([r.route, r.currency], r.quote);
      usage.inc([r.route, r.currency], r.usagePrice);
    },
    render: () => registry.render(),
  };
}
