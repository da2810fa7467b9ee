// In-process micro-benchmark of the gateway's own work per relayed request, free of the sockets, the engine and
// the other processes that make the full bench noisy on a small shared machine: a real Exchange (real gateway
// metrics, a ledger stub) and the stream pump fed one engine read per event, as the simulator writes them, for
//   - a /v1 stream of 32 tokens (the OpenAI dialect: text chunks relayed as the engine's bytes),
//   - a /llm stream of 32 tokens (the /llm dialect: continuous usage on every chunk, frames rebuilt),
//   - a /v1 non-streaming answer of 16 tokens (the OpenAI dialect assembling the JSON answer),
//   - a /llm non-streaming answer of 16 tokens (the /llm dialect assembling the AI-runner's JSON response),
// and the per-chunk text scans over vLLM-shaped chunks (a /v1 text chunk; a /llm one, with usage).
// A build with request traces (telemetry/) is driven through its trace calls as the gateway makes them: with
// tracing off they land on the no-op trace (what every request pays when OTEL_EXPORTER_OTLP_ENDPOINT is unset),
// and the same requests are measured traced, sampling 1.0 and 0.01, through the SDK with an exporter that encodes
// each batch as OTLP/HTTP JSON and drops it (the encoding is measured, the HTTP send is not); the batch is
// flushed inside the timed run.
// With --against <other dist> both builds run in one process, alternated run by run (an A/B of two commits:
// build the other one with `git worktree add` or `git archive <commit> | tar -x -C <dir>` and `npm run build`);
// a build whose gateway has relay/relay-stream.js (StreamRelay and the *Relay classes) is driven through those.
//
//   npm run build --silent && node bench/relay-cpu.mjs [--against <dist>] [--runs 9]
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { against: { type: "string" }, runs: { type: "string", default: "9" } },
});
const RUNS = Number(values.runs);
const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist");

async function load(dist) {
  const m = (f) => import(pathToFileURL(path.join(dist, f)).href);
  const [exchange, metrics] = await Promise.all([
    m("gateway/exchange/exchange.js"),
    m("metrics/gateway-metrics.js"),
  ]);
  const common = {
    dist,
    Exchange: exchange.Exchange,
    metrics: metrics.createGatewayMetrics(),
    trace: existsSync(path.join(dist, "telemetry/request-trace.js")) ? await traceParts(m) : null,
  };
  // A build from before the stream pump; a newer dist/ may still hold that file from an old build (tsc does not
  // remove the output of deleted sources), so the pump's presence decides.
  const pumped = existsSync(path.join(dist, "gateway/relay/stream-pump.js"));
  if (!pumped && existsSync(path.join(dist, "gateway/relay/relay-stream.js")))
    return { ...common, ...(await relayBuild(m)) };
  const [pump, openai, llm, assembler, chunk] = await Promise.all([
    m("gateway/relay/stream-pump.js"),
    m("gateway/dialects/openai-dialect.js"),
    m("gateway/dialects/llm-dialect.js"),
    m("gateway/dialects/answer-assembler.js"),
    m("gateway/dialects/engine-chunk.js"),
  ]);
  const noClient = { failureStatus: 200, attach() {}, write: () => true, end() {}, destroy() {} };
  const noBody = { [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true }) }) };
  return {
    ...common,
    llm: (max) => new llm.LlmDialect({ id: "chatcmpl-x", model: "m", created: 1 }, max),
    openai: (max, usage) => new openai.OpenAiDialect(max, usage, "chat"),
    assembling: (max) =>
      new openai.OpenAiDialect(max, false, "chat", {
        assembler: new assembler.AnswerAssembler("chat", "m", clock),
        fallbackId: "x",
      }),
    answer: (dialect) => dialect.answer().body,
    llmAnswer: (dialect) => dialect.answer().body,
    pump: (ex, dialect, relay) => new pump.StreamPump(ex, dialect, noClient, noBody, null, relay),
    // A stream's chunks through one scanner, as a dialect reads them (a build before TextChunkScanner: each alone).
    scanV1: streamScan(chunk),
    scanLlm: streamScan(chunk),
  };
}

/** A build's request trace and its SDK tracer (telemetry/). */
async function traceParts(m) {
  const [request, tracer, otel] = await Promise.all([
    m("telemetry/request-trace.js"),
    m("telemetry/tracer.js"),
    m("telemetry/otel-tracer.js"),
  ]);
  // The exporter's own encoder (a dependency of @opentelemetry/exporter-trace-otlp-http).
  const { JsonTraceSerializer } = await import("@opentelemetry/otlp-transformer");
  let encoded = 0;
  const exporter = {
    export(spans, done) {
      encoded += JsonTraceSerializer.serializeRequest(spans)?.length ?? 0;
      done({ code: 0 });
    },
    shutdown: async () => {},
    forceFlush: async () => {},
  };
  const tracerAt = (ratio) =>
    new otel.OtelTracer({
      config: {
        tracesUrl: "http://127.0.0.1:9/v1/traces",
        headers: null,
        serviceName: "bench",
        sampler: "parentbased_traceidratio",
        ratio,
      },
      exporter,
      // Every span of a timed run is kept for the flush at its end, none dropped for a full queue.
      batch: { maxQueueSize: 1 << 17, maxExportBatchSize: 512, scheduledDelayMillis: 3_600_000 },
    });
  return {
    start: request.startRequestTrace,
    off: tracer.NOOP_TRACER,
    at: { "1.0": tracerAt(1), 0.01: tracerAt(0.01) },
    encodedBytes: () => encoded,
  };
}

/** The same parts in a build from before the stream pump and the dialects. */
async function relayBuild(m) {
  const [stream, openai, llm, assembling, assembler, chunk, llmScan] = await Promise.all([
    m("gateway/relay/relay-stream.js"),
    m("gateway/relay/openai-relay.js"),
    m("gateway/relay/llm-relay.js"),
    m("gateway/relay/assembling-relay.js"),
    m("gateway/relay/answer-assembler.js"),
    m("gateway/relay/engine-chunk.js"),
    m("gateway/relay/llm-chunk-scan.js"),
  ]);
  return {
    llm: (max) => new llm.LlmRelay({ id: "chatcmpl-x", model: "m", created: 1 }, max),
    openai: (max, usage) => new openai.OpenAiRelay(max, usage, "chat"),
    assembling: (max) =>
      new assembling.AssemblingRelay(
        new openai.OpenAiRelay(max, false, "chat"),
        new assembler.AnswerAssembler("chat", "m", clock),
      ),
    answer: (relay) => relay.assembler.response(relay.usage(), "x"),
    llmAnswer: (relay) => relay.response(),
    pump: (ex, relay) => new stream.StreamRelay(ex, relay, 502),
    scanV1: eachScan(chunk.scanTextChunk),
    scanLlm: eachScan(llmScan.scanLlmTextChunk),
  };
}

/** How many of a stream's chunks fn reads by the scan, fn called on each alone. */
const eachScan = (fn) => (list) => {
  let n = 0;
  for (const c of list) if (fn(c, "chat")) n++;
  return n;
};

/** The same, the chunks read in order by one TextChunkScanner where the build has one. */
function streamScan(chunk) {
  if (!chunk.TextChunkScanner) return eachScan(chunk.scanTextChunk);
  return (list) => {
    const scanner = new chunk.TextChunkScanner("chat");
    let n = 0;
    for (const c of list) if (scanner.scan(c)) n++;
    return n;
  };
}

// vLLM's chunks (serving_chat.py key order), as the simulator writes them.
const WORDS = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", "é", " ☃"];
const head = (choices) =>
  `{"id":"chatcmpl-abcdef0123456789abcdef","object":"chat.completion.chunk","created":1764460000,` +
  `"model":"meta-llama/Llama-3.1-8B-Instruct","choices":[${choices}]`;
const usage = (c) => `"usage":{"prompt_tokens":93,"total_tokens":${93 + c},"completion_tokens":${c}}`;
const text = (i) =>
  `{"index":0,"delta":{"content":${JSON.stringify(WORDS[i % WORDS.length])}},"logprobs":null,"finish_reason":null}`;

/** The engine's chunks for n tokens: role, n-1 texts, the last text with finish_reason, usage. */
function chunks(n, continuous) {
  const tail = (c) => (continuous ? `,${usage(c)}}` : "}");
  const out = [
    `${head('{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}')}${tail(0)}`,
  ];
  for (let i = 1; i < n; i++) out.push(`${head(text(i))}${tail(i)}`);
  out.push(
    `${head('{"index":0,"delta":{"content":" end"},"logprobs":null,"finish_reason":"length","stop_reason":null}')}${tail(n)}`,
  );
  out.push(`${head("")},${usage(n)}}`);
  return out;
}
const reads = (list) => [...list.map((c) => Buffer.from(`data: ${c}\n\n`)), Buffer.from("data: [DONE]\n\n")];
const V1 = reads(chunks(32, false));
const LLM = reads(chunks(32, true));
const JSON16 = reads(chunks(16, false));
const LLM16 = reads(chunks(16, true));
const clock = () => performance.timeOrigin + performance.now();

// What the gateway hands the trace: the request line, the admission figures, the ticket, the engine's address.
const REQUEST_LINE = {
  method: "POST",
  route: "/v1/chat/completions",
  path: "/v1/chat/completions",
  header: () => undefined,
};
const ADMISSION = { queueDepth: 0, inFlight: 3, capacity: 384 };
const TICKET = { endpoint: { replica: 0, generation: 1 }, routing: { policy: "least-in-flight" } };
const ENGINE = "http://127.0.0.1:8100";

function request(M, kind, tracer = null) {
  const deps = {
    ledger: { record() {} },
    metrics: M.metrics,
    logger: { error() {}, warn() {}, info() {} },
    clock,
    rate: { pricePerUnit: 1, pixelsPerUnit: 1_000_000, currency: "USD" },
    model: "m",
  };
  const llm = kind === "llm" || kind === "llmjson";
  const route = llm ? "/llm" : "/v1/chat/completions";
  const input = { llm: LLM, json: JSON16, llmjson: LLM16, v1: V1 }[kind];
  const stream = kind === "llm" || kind === "v1";
  const facts = { maxTokens: 100, stream, operation: "chat" };
  return () => {
    const trace = M.trace ? M.trace.start(tracer ?? M.trace.off, REQUEST_LINE) : null;
    trace?.authPassed("bearer");
    trace?.validated(facts, "m");
    // One object shape for every build and mode, as the gateway's own literal (serve-generation.ts): a spread
    // here made the traced build's Exchange see another shape and cost it ~3 µs a request in this bench alone.
    const init = { route, stream, maxTokens: 100, trace: trace ?? undefined };
    const ex = new M.Exchange(deps, init, () => {});
    if (trace) {
      trace.opened(ex.id, null);
      trace.queued(ADMISSION);
      trace.admitted(TICKET);
      trace.engineCall(ENGINE, route);
      trace.engineAnswered(200);
    }
    const dialect = llm ? M.llm(100) : kind === "json" ? M.assembling(100) : M.openai(100, true);
    const relay = stream && trace ? trace.relay(true) : null;
    const pump = M.pump(ex, dialect, relay);
    let bytes = 0;
    for (const read of input) bytes += pump.push(read).length;
    const tail = pump.complete();
    bytes += tail.length;
    relay?.wrote(tail);
    relay?.end();
    if (!stream) {
      const text = JSON.stringify(kind === "json" ? M.answer(dialect) : M.llmAnswer(dialect));
      bytes += text.length;
      const answer = trace?.relay(false);
      answer?.wrote(text);
      answer?.end();
    }
    trace?.responded(200);
    return bytes;
  };
}

const LLM_CHUNKS = chunks(64, true).slice(1, 64);
const V1_CHUNKS = chunks(64, false).slice(1, 64);
const scan = (fn, list) => () => fn(list);

let sink = 0;
/** µs per call of fn, over enough calls for ~50 ms, after a warm-up; `flush` (the traced runs' export) is timed. */
async function time(fn, calls, flush = null) {
  for (let i = 0; i < calls / 10; i++) sink += fn();
  await flush?.();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) sink += fn();
  await flush?.();
  return Number(process.hrtime.bigint() - t0) / calls / 1000;
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

const builds = [await load(HERE)];
if (values.against) builds.unshift(await load(path.resolve(values.against)));
const cases = [
  ["/v1 stream, 32 tokens (µs per request)", (M) => request(M, "v1"), 3000, 1],
  ["/llm stream, 32 tokens (µs per request)", (M) => request(M, "llm"), 3000, 1],
  ["/v1 non-streaming, 16 tokens (µs per request)", (M) => request(M, "json"), 3000, 1],
  ["/llm non-streaming, 16 tokens (µs per request)", (M) => request(M, "llmjson"), 3000, 1],
  ["/v1 text scan (ns per chunk)", (M) => scan(M.scanV1, V1_CHUNKS), 5000, 1000 / V1_CHUNKS.length],
  ["/llm text scan (ns per chunk)", (M) => scan(M.scanLlm, LLM_CHUNKS), 5000, 1000 / LLM_CHUNKS.length],
];
console.log(
  `node ${process.version}; median of ${RUNS} runs${builds.length > 1 ? ", builds alternated" : ""}`,
);
console.log(builds.map((b, i) => `  ${builds.length > 1 ? "AB"[i] : "this"}: ${b.dist}`).join("\n"));
for (const [label, make, calls, scale] of cases) {
  const fns = builds.map(make);
  const outputs = fns.map((f) => f());
  if (outputs.some((o) => o !== outputs[0])) console.log(`  (${label}: the builds' outputs differ in size)`);
  const samples = fns.map(() => []);
  for (let r = 0; r < RUNS; r++) {
    for (const [i, f] of fns.entries()) samples[i].push((await time(f, calls)) * scale);
  }
  const m = samples.map(median);
  const cells = m.map((v, i) => `${builds.length > 1 ? `${"AB"[i]} ` : ""}${v.toFixed(1)}`).join("   ");
  const change = m.length > 1 ? `   (${(100 * (m[1] / m[0] - 1)).toFixed(0)} %)` : "";
  console.log(`${label.padEnd(48)} ${cells}${change}`);
}
// Tracing on, this build only: the same requests through the SDK, sampling 1.0 and 0.01, beside tracing off.
const traced = builds.at(-1);
if (traced.trace) {
  console.log(
    "\ntracing (this build): off / sampled 1.0 / sampled 0.01, µs per request (per streamed event)",
  );
  const EVENTS = { v1: V1.length, llm: LLM.length, json: JSON16.length };
  for (const kind of ["v1", "llm", "json"]) {
    const runs = [
      ["off", request(traced, kind), null],
      ...Object.entries(traced.trace.at).map(([ratio, tracer]) => [
        ratio,
        request(traced, kind, tracer),
        () => tracer.flush(),
      ]),
    ];
    const samples = runs.map(() => []);
    for (let r = 0; r < RUNS; r++) {
      for (const [i, [, f, flush]] of runs.entries()) samples[i].push(await time(f, 3000, flush));
    }
    const cells = samples
      .map(median)
      .map((v, i) => `${runs[i][0]} ${v.toFixed(1)} (${((v * 1000) / EVENTS[kind]).toFixed(0)} ns)`)
      .join("   ");
    console.log(`${kind.padEnd(5)} ${cells}`);
  }
  console.log(`(${(traced.trace.encodedBytes() / 1e6).toFixed(0)} MB of OTLP JSON encoded)`);
}
if (sink === 0) console.log("(nothing measured)");
