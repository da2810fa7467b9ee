// Traces through the built CLI: a runner with OTEL_EXPORTER_OTLP_ENDPOINT exports to a real OTLP/HTTP receiver
// (test/helpers/otlp-receiver.ts decodes the JSON the exporter sends). What must hold: one trace per request
// with its steps as children of the request's SERVER span, the GenAI attributes (OpenTelemetry GenAI semantic
// conventions, docs/gen-ai/gen-ai-spans.md), an incoming W3C traceparent continued (W3C Trace Context, "traceparent
// Header"), the engine called with a traceparent naming the engine span, and the lifecycle trace from the
// runner's own process, also with GATEWAY_WORKERS=2.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, waitFor } from "./helpers/cli.js";
import { authHeaders, call, chatBody, startRunner, stopAllRunners, words } from "./helpers/load.js";
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "./helpers/otlp-receiver.js";

beforeAll(() => assertBuilt());
let receiver: OtlpReceiver | null = null;
afterEach(async () => {
  await stopAllRunners();
  await receiver?.close();
  receiver = null;
});

const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;
// The exporter's batch goes out every 5 s by default; the SDK reads OTEL_BSP_SCHEDULE_DELAY itself.
const FAST_EXPORT = { OTEL_BSP_SCHEDULE_DELAY: "100" };

async function tracedRunner(extra: Record<string, string> = {}) {
  receiver = await startOtlpReceiver();
  const runner = await startRunner({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_SERVICE_NAME: "llm-runner-test",
    ...FAST_EXPORT,
    ...extra,
  });
  return { runner, receiver };
}

function children(spans: ReceivedSpan[], parent: ReceivedSpan): ReceivedSpan[] {
  return spans.filter((s) => s.traceId === parent.traceId && s.parentSpanId === parent.spanId);
}

function byName(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = spans.find((s) => s.name === name);
  if (!found) throw new Error(`no span ${name} among ${spans.map((s) => s.name).join(", ")}`);
  return found;
}

/** The `traceparent` values the simulator logged for each generation it served. */
function engineTraceparents(home: string): string[] {
  return [...readFileSync(join(home, "engine.log"), "utf8").matchAll(/traceparent=(\S+)/g)].map(
    (m) => m[1] ?? "",
  );
}

describe("request traces", () => {
  it("one trace per streamed request: auth, validate, admission, route, the engine call and the relay under its SERVER span", {
    timeout: 90_000,
  }, async () => {
    const { runner, receiver } = await tracedRunner();
    const r = await call(
      runner.url,
      "/v1/chat/completions",
      chatBody("/v1/chat/completions", words(5), 16, true),
    );
    expect(r.status).toBe(200);
    const spans = await receiver.waitFor((all) => all.some((s) => s.name === "POST /v1/chat/completions"));
    const root = byName(spans, "POST /v1/chat/completions");
    expect(root.kind).toBe(SERVER);
    expect(root.parentSpanId).toBe("");
    expect(root.resource["service.name"]).toBe("llm-runner-test");
    expect(root.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.route": "/v1/chat/completions",
      "http.response.status_code": 200,
      "llm_runner.request_id": r.requestId,
      "llm_runner.outcome": "ok",
      "gen_ai.request.model": "meta-llama/Meta-Llama-3.1-8B-Instruct",
      "gen_ai.request.max_tokens": 16,
    });
    const steps = children(spans, root);
    expect(steps.map((s) => s.name).sort()).toEqual(
      [
        "admission",
        "auth",
        "chat meta-llama/Meta-Llama-3.1-8B-Instruct",
        "relay",
        "route",
        "validate",
      ].sort(),
    );
    expect(byName(steps, "auth").attributes["llm_runner.auth.method"]).toBe("bearer");
    expect(byName(steps, "admission").attributes).toMatchObject({ "llm_runner.queue.position": 0 });
    expect(byName(steps, "route").attributes).toMatchObject({
      // ROUTER defaults to prefix; one replica, nothing cached yet: chosen by load.
      "llm_runner.route.policy": "prefix",
      "llm_runner.route.reason": "load",
      "llm_runner.replica": 0,
      "llm_runner.engine.generation": 1,
    });
    const engine = byName(steps, "chat meta-llama/Meta-Llama-3.1-8B-Instruct");
    expect(engine.kind).toBe(CLIENT);
    expect(engine.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "vllm",
      "gen_ai.request.model": "meta-llama/Meta-Llama-3.1-8B-Instruct",
      "gen_ai.request.max_tokens": 16,
      "gen_ai.request.stream": true,
      "gen_ai.usage.output_tokens": 5,
      "gen_ai.response.finish_reasons": ["stop"],
      "http.response.status_code": 200,
      "server.address": "127.0.0.1",
    });
    expect(engine.attributes["gen_ai.usage.input_tokens"]).toBeGreaterThan(0);
    expect(engine.attributes["gen_ai.response.time_to_first_chunk"]).toBeGreaterThan(0);
    expect(engine.attributes["llm_runner.time_to_first_token"]).toBeGreaterThanOrEqual(
      engine.attributes["gen_ai.response.time_to_first_chunk"] as number,
    );
    const relay = byName(steps, "relay");
    expect(relay.attributes["llm_runner.relay.bytes"]).toBe(Buffer.byteLength(r.text));
    expect(relay.attributes["llm_runner.client.aborted"]).toBeUndefined();
    // The steps lie inside the request. The SDK starts each span's clock at Date.now() (whole milliseconds) and
    // adds performance.now() durations, so two spans' times may disagree by up to 1 ms.
    const slack = 1_000_000n;
    for (const s of steps) {
      expect(s.startNs + slack >= root.startNs && s.endNs <= root.endNs + slack, s.name).toBe(true);
    }
    // The engine was asked with the engine span as the parent of vLLM's own spans.
    expect(engineTraceparents(runner.home)).toEqual([`00-${engine.traceId}-${engine.spanId}-01`]);
  });

  it("continues an incoming traceparent: same trace id, the caller's span as the parent", {
    timeout: 90_000,
  }, async () => {
    const { runner, receiver } = await tracedRunner();
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parent = "00f067aa0ba902b7";
    const r = await call(runner.url, "/llm", chatBody("/llm", words(3), 8, false), {
      headers: { ...authHeaders(), traceparent: `00-${traceId}-${parent}-01` },
    });
    expect(r.status).toBe(200);
    const spans = await receiver.waitFor((all) => all.some((s) => s.name === "POST /llm"));
    const root = byName(spans, "POST /llm");
    expect(root.traceId).toBe(traceId);
    expect(root.parentSpanId).toBe(parent);
    const engine = byName(children(spans, root), "chat meta-llama/Meta-Llama-3.1-8B-Instruct");
    expect(engine.attributes["gen_ai.response.finish_reasons"]).toEqual(["stop"]);
    expect(byName(children(spans, root), "relay").attributes).toMatchObject({
      "llm_runner.client.stream": false,
      "llm_runner.relay.bytes": Buffer.byteLength(r.text),
    });
    expect(engineTraceparents(runner.home)).toEqual([`00-${traceId}-${engine.spanId}-01`]);
  });

  it("an unsampled caller (flags 00) gets no spans, and the engine is told not to sample", {
    timeout: 90_000,
  }, async () => {
    const { runner, receiver } = await tracedRunner();
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const quiet = await call(runner.url, "/llm", chatBody("/llm", words(2), 4, false), {
      headers: { ...authHeaders(), traceparent: `00-${traceId}-b7ad6b7169203331-00` },
    });
    expect(quiet.status).toBe(200);
    // A sampled request afterwards: once its spans are in, the unsampled one's would be too.
    await call(runner.url, "/llm", chatBody("/llm", words(2), 4, false));
    await receiver.waitFor((all) => all.some((s) => s.name === "POST /llm"));
    expect(receiver.spans.filter((s) => s.traceId === traceId)).toEqual([]);
    expect(engineTraceparents(runner.home)[0]).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
  });

  it("a refused request ends in its failed step: 401 in auth, 400 in validate", {
    timeout: 90_000,
  }, async () => {
    const { runner, receiver } = await tracedRunner();
    await call(runner.url, "/v1/chat/completions", chatBody("/v1/chat/completions", "hi", 4, false), {
      headers: authHeaders("wrong-token"),
    });
    await call(runner.url, "/v1/chat/completions", "{not json");
    const spans = await receiver.waitFor(
      (all) => all.filter((s) => s.name === "POST /v1/chat/completions").length >= 2,
    );
    const roots = spans.filter((s) => s.name === "POST /v1/chat/completions");
    const refused = roots.find((s) => s.attributes["http.response.status_code"] === 401) as ReceivedSpan;
    const invalid = roots.find((s) => s.attributes["http.response.status_code"] === 400) as ReceivedSpan;
    // 4xx is the client's: the SERVER span is not failed (HTTP semantic conventions, "Status").
    expect(refused.status.code).not.toBe(ERROR);
    expect(children(spans, refused).map((s) => [s.name, s.status.code, s.attributes["error.type"]])).toEqual([
      ["auth", ERROR, "401"],
    ]);
    expect(
      children(spans, invalid)
        .map((s) => [s.name, s.status.code, s.attributes["error.type"]])
        .sort(),
    ).toEqual([
      ["auth", 0, undefined],
      ["validate", ERROR, "400"],
    ]);
  });
});

describe("lifecycle trace", () => {
  it("the runner's start, its engine's start until ready and its serving stretch, in one trace", {
    timeout: 90_000,
  }, async () => {
    const { runner, receiver } = await tracedRunner();
    // Spans come in batches: wait for every span the test reads, not only the last one expected.
    const has = (all: ReceivedSpan[], ...names: string[]) =>
      names.every((n) => all.some((s) => s.name === n));
    const spans = await receiver.waitFor((all) => has(all, "engine.start", "runner.start"));
    const root = byName(spans, "runner.start");
    expect(root.resource["llm_runner.process"]).toBe("runner");
    expect(root.attributes).toMatchObject({ "llm_runner.engine": "sim", "llm_runner.replicas": 1 });
    const start = byName(spans, "engine.start");
    expect(start.parentSpanId).toBe(root.spanId);
    expect(start.attributes).toMatchObject({ "llm_runner.replica": 0, "llm_runner.engine.generation": 1 });
    expect(start.events.map((e) => e.name)).toContain("loading");
    // The serving stretch ends with the engine: stop the runner and it is exported.
    await runner.stop();
    const after = await receiver.waitFor((all) => has(all, "engine.serve", "runner.stop"));
    const serve = byName(after, "engine.serve");
    expect(serve.traceId).toBe(root.traceId);
    expect(serve.startNs >= start.endNs).toBe(true);
    expect(byName(after, "runner.stop").traceId).toBe(root.traceId);
  });
});

describe("GATEWAY_WORKERS=2", () => {
  it("each worker exports its own requests' spans; the lifecycle comes from the runner's process", {
    timeout: 120_000,
  }, async () => {
    const { runner, receiver } = await tracedRunner({ GATEWAY_WORKERS: "2" });
    for (let i = 0; i < 6; i++) {
      const r = await call(
        runner.url,
        "/v1/chat/completions",
        chatBody("/v1/chat/completions", words(3), 4, true),
        {
          reset: true,
        },
      );
      expect(r.status).toBe(200);
    }
    const spans = await receiver.waitFor(
      (all) => all.filter((s) => s.name === "POST /v1/chat/completions").length === 6,
    );
    const roots = spans.filter((s) => s.name === "POST /v1/chat/completions");
    expect(new Set(roots.map((s) => s.traceId)).size).toBe(6);
    for (const root of roots) {
      expect(root.resource["llm_runner.process"]).toBe("http-worker");
      expect(children(spans, root).map((s) => s.name)).toContain("route");
    }
    // Connections are dealt round-robin over the workers: both exported.
    expect(new Set(roots.map((s) => s.resource["process.pid"])).size).toBe(2);
    expect(roots.every((s) => s.resource["process.pid"] !== runner.pid)).toBe(true);
    const lifecycle = byName(spans, "runner.start");
    expect(lifecycle.resource["process.pid"]).toBe(runner.pid);
    expect(engineTraceparents(runner.home)).toHaveLength(6);
    await waitFor(
      () => receiver.spans.some((s) => s.name === "engine.start") || null,
      10_000,
      "engine.start",
    );
  });
});
