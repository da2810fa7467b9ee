import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { NOOP_REQUEST_TRACE, type RequestTrace, startRequestTrace } from "./request-trace.js";
import { memoryTracer } from "./testing/memory-tracer.js";
import { NOOP_TRACER } from "./tracer.js";

const TICKET = {
  endpoint: { replica: 1, generation: 3 },
  route: { policy: "prefix", reason: "sticky", matchedBlocks: 3, totalBlocks: 5 },
};
const QUEUE = { queueDepth: 2, inFlight: 8, capacity: 16 };
const GENERATION = { maxTokens: 64, stream: true, operation: "chat" as const };

function line(headers: Record<string, string> = {}) {
  return {
    method: "POST",
    route: "/v1/chat/completions",
    path: "/v1/chat/completions",
    header: (n: string) => headers[n],
  };
}

/** The calls the gateway makes for a streamed request that ends well, up to the relay's end. */
function served(trace: RequestTrace, opts: { respondFirst?: boolean } = {}): Record<string, string> {
  trace.authPassed("bearer");
  trace.validated(GENERATION, "llama");
  trace.opened("req1", "session-9");
  trace.queued(QUEUE);
  trace.admitted(TICKET);
  const headers = trace.engineCall("http://127.0.0.1:8100", "/v1/chat/completions");
  trace.engineAnswered(200);
  const relay = trace.relay(true);
  trace.firstChunk();
  trace.firstToken();
  relay?.wrote("data: é\n\n");
  relay?.wrote(new Uint8Array(10));
  if (opts.respondFirst) trace.responded(200);
  trace.finished({ status: "ok", promptTokens: 12, completionTokens: 30, finishReason: "length" });
  relay?.end();
  if (!opts.respondFirst) trace.responded(200);
  return headers;
}

const named = (spans: ReadableSpan[], name: string) => spans.find((s) => s.name === name) as ReadableSpan;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

describe("request trace", () => {
  it("is the no-op trace with tracing off: no spans, no relay, no headers for the engine", () => {
    const trace = startRequestTrace(NOOP_TRACER, line());
    expect(trace).toBe(NOOP_REQUEST_TRACE);
    expect(trace.relay(true)).toBeNull();
    expect(trace.engineCall("http://127.0.0.1:8100", "/v1/completions")).toEqual({});
  });

  it("puts every step under the request's SERVER span, the engine call a CLIENT span named '{operation} {model}'", async () => {
    const { tracer, spans } = memoryTracer();
    served(startRequestTrace(tracer, line()));
    const all = await spans();
    const root = named(all, "POST /v1/chat/completions");
    expect(root.kind).toBe(SpanKind.SERVER);
    expect(root.parentSpanContext).toBeUndefined();
    expect(all.filter((s) => s !== root).map((s) => [s.name, parentOf(s)])).toEqual(
      expect.arrayContaining([
        ["auth", root.spanContext().spanId],
        ["validate", root.spanContext().spanId],
        ["admission", root.spanContext().spanId],
        ["route", root.spanContext().spanId],
        ["chat llama", root.spanContext().spanId],
        ["relay", root.spanContext().spanId],
      ]),
    );
    expect(all).toHaveLength(7);
    expect(root.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.route": "/v1/chat/completions",
      "http.response.status_code": 200,
      "llm_runner.request_id": "req1",
      "llm_runner.outcome": "ok",
      "gen_ai.conversation.id": "session-9",
    });
    expect(named(all, "admission").attributes).toEqual({
      "llm_runner.queue.position": 2,
      "llm_runner.admission.in_flight": 8,
      "llm_runner.admission.capacity": 16,
    });
    expect(named(all, "route").attributes).toEqual({
      "llm_runner.route.policy": "prefix",
      "llm_runner.route.reason": "sticky",
      "llm_runner.replica": 1,
      "llm_runner.engine.generation": 3,
      "llm_runner.route.prefix_match_blocks": 3,
      "llm_runner.route.prompt_blocks": 5,
    });
    const engine = named(all, "chat llama");
    expect(engine.kind).toBe(SpanKind.CLIENT);
    expect(engine.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "vllm",
      "gen_ai.request.model": "llama",
      "gen_ai.request.max_tokens": 64,
      "gen_ai.request.stream": true,
      "gen_ai.usage.input_tokens": 12,
      "gen_ai.usage.output_tokens": 30,
      "gen_ai.response.finish_reasons": ["length"],
      "server.address": "127.0.0.1",
      "server.port": 8100,
      "http.response.status_code": 200,
    });
    expect(engine.events.map((e) => e.name)).toEqual(["first_token"]);
    expect(named(all, "relay").attributes).toMatchObject({
      "llm_runner.relay.bytes": Buffer.byteLength("data: é\n\n") + 10,
      "llm_runner.relay.pauses": 0,
    });
  });

  it("carries the engine span to the engine as a W3C traceparent (version 00, sampled)", async () => {
    const { tracer, spans } = memoryTracer();
    const headers = served(startRequestTrace(tracer, line()));
    const engine = named(await spans(), "chat llama");
    expect(headers).toEqual({
      traceparent: `00-${engine.spanContext().traceId}-${engine.spanContext().spanId}-01`,
    });
  });

  it("continues the caller's trace from its traceparent", async () => {
    const { tracer, spans } = memoryTracer();
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    served(startRequestTrace(tracer, line({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` })));
    const root = named(await spans(), "POST /v1/chat/completions");
    expect(root.spanContext().traceId).toBe(traceId);
    expect(root.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
  });

  it("records nothing for a caller that did not sample, and tells the engine not to sample either", async () => {
    const { tracer, spans } = memoryTracer();
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const trace = startRequestTrace(tracer, line({ traceparent: `00-${traceId}-00f067aa0ba902b7-00` }));
    expect(trace.relay(true)).toBeNull();
    const headers = served(trace);
    expect(await spans()).toEqual([]);
    expect(headers.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
  });

  it("samples about the configured ratio of new traces (traceidratio 0.25)", async () => {
    const { tracer, spans } = memoryTracer("parentbased_traceidratio", 0.25);
    for (let i = 0; i < 2000; i++) served(startRequestTrace(tracer, line()));
    const roots = (await spans()).filter((s) => s.name === "POST /v1/chat/completions").length;
    // 500 expected; ±100 is more than 5 standard deviations (√(2000·0.25·0.75) ≈ 19).
    expect(roots).toBeGreaterThan(400);
    expect(roots).toBeLessThan(600);
  });

  it("ends the request's span after its relay, also when the handler returned first (a stream)", async () => {
    const { tracer, spans } = memoryTracer();
    const trace = startRequestTrace(tracer, line());
    trace.authPassed("bearer");
    trace.validated(GENERATION, "llama");
    const relay = trace.relay(true);
    trace.responded(200);
    expect(await spans()).toHaveLength(2); // auth and validate; the request is still being relayed
    relay?.end();
    const all = await spans();
    const root = named(all, "POST /v1/chat/completions");
    // HrTime is [seconds, nanoseconds]: compared as numbers (`>=` on the arrays would compare their strings).
    const ns = ([s, n]: readonly [number, number]) => BigInt(s) * 1_000_000_000n + BigInt(n);
    expect(ns(root.endTime)).toBeGreaterThanOrEqual(ns(named(all, "relay").endTime));
  });

  it("fails the engine span on an engine error (error.type), and the request's span only for a 5xx", async () => {
    const { tracer, spans } = memoryTracer();
    const trace = startRequestTrace(tracer, line());
    trace.authPassed("bearer");
    trace.validated(GENERATION, "llama");
    trace.queued(QUEUE);
    trace.admitted(TICKET);
    trace.engineCall("http://127.0.0.1:8100", "/v1/chat/completions");
    trace.engineAnswered(200);
    trace.finished({ status: "engine_error", error: "the engine closed the stream before sending [DONE]" });
    trace.responded(502);
    const all = await spans();
    const engine = named(all, "chat llama");
    expect(engine.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: "the engine closed the stream before sending [DONE]",
    });
    expect(engine.attributes["error.type"]).toBe("engine_error");
    const root = named(all, "POST /v1/chat/completions");
    expect(root.status.code).toBe(SpanStatusCode.ERROR);
    expect(root.attributes["error.type"]).toBe("502");
  });

  it("an engine 4xx fails the engine span with its status; the request's 4xx leaves its span unset", async () => {
    const { tracer, spans } = memoryTracer();
    const trace = startRequestTrace(tracer, line());
    trace.authPassed("bearer");
    trace.validated(GENERATION, "llama");
    trace.queued(QUEUE);
    trace.admitted(TICKET);
    trace.engineCall("http://127.0.0.1:8100", "/v1/chat/completions");
    trace.engineAnswered(400);
    trace.finished({ status: "rejected", error: "engine HTTP 400: too long" });
    trace.responded(400);
    const all = await spans();
    expect(named(all, "chat llama").attributes["error.type"]).toBe("400");
    expect(named(all, "POST /v1/chat/completions").status.code).toBe(SpanStatusCode.UNSET);
  });

  it("a refused admission fails the admission step with the status it answered", async () => {
    const { tracer, spans } = memoryTracer();
    const trace = startRequestTrace(tracer, line());
    trace.authPassed("bearer");
    trace.validated(GENERATION, "llama");
    trace.queued(QUEUE);
    trace.refused(429, "The runner is busy");
    trace.finished({ status: "rejected", error: "The runner is busy" });
    trace.responded(429);
    const admission = named(await spans(), "admission");
    expect(admission.status).toEqual({ code: SpanStatusCode.ERROR, message: "The runner is busy" });
    expect(admission.attributes["error.type"]).toBe("429");
  });

  it("marks the relay of a client that left, with its reason", async () => {
    const { tracer, spans } = memoryTracer();
    const trace = startRequestTrace(tracer, line());
    trace.authPassed("bearer");
    const relay = trace.relay(true);
    relay?.paused();
    relay?.clientLeft("the client read too little of the stream");
    relay?.end();
    trace.responded(200);
    const span = named(await spans(), "relay");
    expect(span.attributes).toMatchObject({
      "llm_runner.client.aborted": true,
      "llm_runner.relay.pauses": 1,
    });
    expect(span.events.map((e) => [e.name, e.attributes?.reason])).toEqual([
      ["client_left", "the client read too little of the stream"],
    ]);
  });

  it("a GET is authorized, then answered: no validate step", async () => {
    const { tracer, spans } = memoryTracer();
    const trace = startRequestTrace(tracer, {
      ...line(),
      method: "GET",
      route: "/v1/models",
      path: "/v1/models",
    });
    trace.authPassed("none");
    trace.responded(200);
    expect((await spans()).map((s) => s.name).sort()).toEqual(["GET /v1/models", "auth"]);
  });
});
