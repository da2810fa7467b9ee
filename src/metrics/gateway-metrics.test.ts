import { describe, expect, it } from "vitest";
import { VERSION } from "../version.js";
import { createGatewayMetrics, TTFT_BUCKETS } from "./gateway-metrics.js";

describe("createGatewayMetrics", () => {
  it("renders counters and cumulative histogram buckets in Prometheus text", async () => {
    const m = createGatewayMetrics();
    m.response("/llm", 200);
    m.response("/llm", 200);
    m.response('a"b\\c', 400);
    m.interTokenGap("/llm", 0.003);
    m.interTokenGap("/llm", 0.3);
    m.interTokenGap("/llm", 5);
    m.finished({
      route: "/llm",
      outcome: "ok",
      promptTokens: 3,
      completionTokens: 2,
      quote: 0.00002048,
      usagePrice: 0.00000016,
      currency: "USD",
      e2eSeconds: 0.2,
    });
    m.finished({
      route: "/llm",
      outcome: "rejected",
      promptTokens: 0,
      completionTokens: 0,
      quote: 1,
      usagePrice: 1,
      currency: "USD",
      e2eSeconds: null,
    });
    const text = await m.render();
    const lines = text.split("\n");
    expect(lines).toContain("# TYPE llm_runner_http_responses_total counter");
    expect(lines).toContain(`llm_runner_build_info{version="${VERSION}"} 1`);
    expect(lines).toContain('llm_runner_http_responses_total{route="/llm",code="200"} 2');
    expect(lines).toContain('llm_runner_http_responses_total{route="a\\"b\\\\c",code="400"} 1');
    expect(lines).toContain("# TYPE llm_runner_inter_token_gap_seconds histogram");
    expect(lines).toContain('llm_runner_inter_token_gap_seconds_bucket{le="0.001",route="/llm"} 0');
    expect(lines).toContain('llm_runner_inter_token_gap_seconds_bucket{le="0.005",route="/llm"} 1');
    expect(lines).toContain('llm_runner_inter_token_gap_seconds_bucket{le="0.5",route="/llm"} 2');
    expect(lines).toContain('llm_runner_inter_token_gap_seconds_bucket{le="+Inf",route="/llm"} 3');
    expect(lines).toContain('llm_runner_inter_token_gap_seconds_count{route="/llm"} 3');
    expect(lines).toContain('llm_runner_requests_total{route="/llm",outcome="ok"} 1');
    expect(lines).toContain('llm_runner_requests_total{route="/llm",outcome="rejected"} 1');
    // A rejected request is counted, never priced.
    expect(lines).toContain('llm_runner_quoted_revenue_total{route="/llm",currency="USD"} 0.00002048');
    expect(lines).toContain('llm_runner_completion_tokens_total{route="/llm"} 2');
    expect(lines).toContain('llm_runner_e2e_request_latency_seconds_count{route="/llm",outcome="ok"} 1');
  });

  it("buckets a time to first token of minutes (a long queue) below +Inf, up to vLLM's 2,560 s", async () => {
    const m = createGatewayMetrics();
    m.timeToFirstToken("/v1/chat/completions", 0.0008);
    m.timeToFirstToken("/v1/chat/completions", 300);
    m.timeToFirstToken("/v1/chat/completions", 2000);
    const lines = (await m.render()).split("\n");
    const bucket = (le: string) =>
      Number(
        lines
          .find((l) => l.startsWith(`llm_runner_time_to_first_token_seconds_bucket{le="${le}",`))
          ?.split(" ")[1],
      );
    expect(bucket("0.001")).toBe(1);
    expect(bucket("160")).toBe(1);
    expect(bucket("640")).toBe(2);
    expect(bucket("2560")).toBe(3);
  });

  it("has vLLM's time-to-first-token bucket bounds", () => {
    // vllm/v1/metrics/loggers.py, PrometheusStatLogger.__init__, histogram_time_to_first_token.
    expect(TTFT_BUCKETS).toEqual([
      0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
      80.0, 160.0, 640.0, 2560.0,
    ]);
  });

  it("counts route decisions by policy and reason; the policy's four reasons exist from the start at 0", async () => {
    const m = createGatewayMetrics({ router: "prefix" });
    m.routeDecision("prefix", "prefix_hit");
    m.routeDecision("prefix", "prefix_hit");
    const text = await m.render();
    expect(text).toContain('llm_runner_route_decisions_total{policy="prefix",reason="prefix_hit"} 2');
    for (const reason of ["load", "sticky", "fallback"])
      expect(text).toContain(`llm_runner_route_decisions_total{policy="prefix",reason="${reason}"} 0`);
    expect(await createGatewayMetrics().render()).not.toMatch(/^llm_runner_route_decisions_total\{/m);
  });

  it("keeps each gateway's counts apart", async () => {
    const a = createGatewayMetrics();
    const b = createGatewayMetrics();
    a.response("/llm", 200);
    expect(await a.render()).toContain('llm_runner_http_responses_total{route="/llm",code="200"} 1');
    expect(await b.render()).not.toContain('route="/llm"');
  });
});
