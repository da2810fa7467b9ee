import { describe, expect, it } from "vitest";
import { VERSION } from "../version.js";
import { createGatewayMetrics } from "./gateway-metrics.js";

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

  it("keeps each gateway's counts apart", async () => {
    const a = createGatewayMetrics();
    const b = createGatewayMetrics();
    a.response("/llm", 200);
    expect(await a.render()).toContain('llm_runner_http_responses_total{route="/llm",code="200"} 1');
    expect(await b.render()).not.toContain('route="/llm"');
  });
});
