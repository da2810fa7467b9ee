// Micro-benchmark of the metric recordings the gateway makes per request and per relayed chunk, so the
// choice of metrics library can be judged without the full bench (the shared box is too noisy for that).
// Measures ns per operation, median of several runs, for:
//   - the metrics the gateway uses today (dist/metrics/gateway-metrics.js: what the gateway calls)
//   - the hand-written registry it replaced (dist/metrics/registry.js), when that file is still built
//   - prom-client used directly, with labels passed as an object per call and with a cached child
//
//   npm run build --silent && node bench/metrics-recording.mjs [--runs 7] [--ops 200000]
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import client from "prom-client";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "7" }, ops: { type: "string", default: "200000" } },
});
const RUNS = Number(values.runs);
const OPS = Number(values.ops);
const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/metrics");
const ITL_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1, 2.5];
const ROUTES = ["/llm", "/v1/chat/completions"];

function measure(name, op) {
  const samples = [];
  for (let r = 0; r < RUNS; r++) {
    for (let i = 0; i < 10_000; i++) op(i); // warm-up: let the JIT settle
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < OPS; i++) op(i);
    samples.push(Number(process.hrtime.bigint() - t0) / OPS);
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)];
  console.log(`${name.padEnd(62)} ${median.toFixed(1).padStart(8)} ns/op  (min ${samples[0].toFixed(1)})`);
  return median;
}

const gap = (i) => ((i % 97) + 1) / 1000;

console.log(`${RUNS} runs x ${OPS} ops, median ns/op (node ${process.version})\n`);

const gm = await import(pathToFileURL(path.join(DIST, "gateway-metrics.js")).href);
const metrics = gm.createGatewayMetrics();
measure("gateway metrics: interTokenGap (per chunk)", (i) => metrics.interTokenGap(ROUTES[i & 1], gap(i)));
measure("gateway metrics: response (per request)", (i) => metrics.response(ROUTES[i & 1], 200));
measure("gateway metrics: finished (per request)", (i) =>
  metrics.finished({
    route: ROUTES[i & 1],
    outcome: "ok",
    promptTokens: 20,
    completionTokens: 100,
    quote: 0.000008,
    usagePrice: 0.0000064,
    currency: "USD",
    e2eSeconds: gap(i),
  }),
);

if (existsSync(path.join(DIST, "registry.js"))) {
  const { Histogram, Counter } = await import(pathToFileURL(path.join(DIST, "registry.js")).href);
  const h = new Histogram("itl_seconds", "x", ["route"], ITL_BUCKETS);
  const c = new Counter("responses_total", "x", ["route", "code"]);
  measure("hand-written registry: histogram observe (per chunk)", (i) => h.observe([ROUTES[i & 1]], gap(i)));
  measure("hand-written registry: counter inc (per request)", (i) => c.inc([ROUTES[i & 1], "200"]));
} else {
  console.log("(hand-written registry not built: dist/metrics/registry.js is gone)");
}

const registry = new client.Registry();
const h = new client.Histogram({
  name: "itl_seconds",
  help: "x",
  labelNames: ["route"],
  buckets: ITL_BUCKETS,
  registers: [registry],
});
const c = new client.Counter({
  name: "responses_total",
  help: "x",
  labelNames: ["route", "code"],
  registers: [registry],
});
measure("prom-client: histogram observe({route}, v)", (i) => h.observe({ route: ROUTES[i & 1] }, gap(i)));
const children = ROUTES.map((r) => h.labels(r));
measure("prom-client: histogram cached child observe(v)", (i) => children[i & 1].observe(gap(i)));
measure("prom-client: counter inc({route, code})", (i) => c.inc({ route: ROUTES[i & 1], code: "200" }));
