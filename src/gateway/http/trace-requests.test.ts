// The gateway's wiring of request traces (telemetry/request-trace.ts holds the span tree itself): which routes are
// traced, the engine getting the engine span's traceparent, the status and outcome on the request's span.
import { describe, expect, it } from "vitest";
import { memoryTracer } from "../../telemetry/testing/memory-tracer.js";
import { frames, hello, json, setup } from "../testing/gateway-kit.js";

describe("request traces in the gateway", () => {
  it("traces /llm and /v1 requests, not /health or /metrics", async () => {
    const { tracer, spans } = memoryTracer();
    const { app, post } = setup({ tracer });
    await app.request("/health");
    await app.request("/metrics");
    const res = await post("/llm", { ...hello, max_tokens: 8 });
    expect(res.status).toBe(200);
    await json(res);
    const roots = (await spans()).filter((s) => s.parentSpanContext === undefined).map((s) => s.name);
    expect(roots).toEqual(["POST /llm"]);
  });

  it("sends the engine the engine span's traceparent, and records the outcome on the request's span", async () => {
    const { tracer, spans } = memoryTracer();
    const { post, upstream } = setup({ tracer, config: { modelId: "llama" } });
    const res = await post("/v1/chat/completions", { model: "llama", ...hello, stream: true, max_tokens: 8 });
    expect((await frames(res)).at(-1)).toBe("data: [DONE]\n\n");
    const all = await spans();
    const engine = all.find((s) => s.name === "chat llama");
    expect(upstream.requests[0]?.headers).toEqual({
      traceparent: `00-${engine?.spanContext().traceId}-${engine?.spanContext().spanId}-01`,
    });
    const root = all.find((s) => s.name === "POST /v1/chat/completions");
    expect(root?.attributes).toMatchObject({ "http.response.status_code": 200, "llm_runner.outcome": "ok" });
    expect(all.find((s) => s.name === "relay")?.attributes["llm_runner.relay.bytes"]).toBeGreaterThan(0);
  });

  it("names a /v1/completions engine call text_completion", async () => {
    const { tracer, spans } = memoryTracer();
    const { post } = setup({ tracer, config: { modelId: "llama" } });
    await (await post("/v1/completions", { model: "llama", prompt: "hi", max_tokens: 4 })).text();
    expect((await spans()).map((s) => s.name)).toContain("text_completion llama");
  });

  it("records an unknown /v1 path under its mount, with the 404", async () => {
    const { tracer, spans } = memoryTracer();
    const { app } = setup({ tracer });
    expect((await app.request("/v1/nothing-here")).status).toBe(404);
    const root = (await spans()).find((s) => s.parentSpanContext === undefined);
    expect(root?.name).toBe("GET /v1/*");
    expect(root?.attributes["http.response.status_code"]).toBe(404);
  });
});
