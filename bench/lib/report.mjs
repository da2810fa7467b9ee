// Turns the medians into the ratio table (gateway ÷ direct, gateway ÷ floor, /llm ÷ floor, /llm ÷ /v1) and the
// markdown copy of latest.json; the targets are judged in targets.mjs.
import { round } from "./stats.mjs";

export const T = { direct: "direct", floor: "floor", gw: "gateway", llm: "gateway /llm" };

export const get = (obj, path) => path.split(".").reduce((o, k) => (o == null ? null : o[k]), obj);
export const ratio = (a, b) => (typeof a === "number" && typeof b === "number" && b !== 0 ? a / b : null);

/** Rows: one metric of one cell, for each target, with both ratios. */
export function ratioRows(phases) {
  const rows = [];
  const add = (phase, cell, label, metric, unit, better) => {
    const c = phases[phase]?.cells?.[cell];
    if (!c) return;
    const v = (t) => get(c[t], metric);
    rows.push({
      metric: `${label}`,
      phase,
      cell,
      unit,
      better,
      direct: round(v(T.direct), 3),
      floor: round(v(T.floor), 3),
      gateway: round(v(T.gw), 3),
      gatewayLlm: round(v(T.llm), 3),
      gwOverDirect: round(ratio(v(T.gw), v(T.direct)), 3),
      gwOverFloor: round(ratio(v(T.gw), v(T.floor)), 3),
      llmOverFloor: round(ratio(v(T.llm), v(T.floor)), 3),
      llmOverGw: round(ratio(v(T.llm), v(T.gw)), 3),
    });
  };
  for (const c of [1, 16, 64])
    add("throughput", `json c=${c}`, `JSON req/s @${c}`, "reqPerSec", "req/s", "higher");
  for (const c of [1, 16, 64])
    add("throughput", `json c=${c}`, `JSON p50 @${c}`, "latencyMs.p50", "ms", "lower");
  for (const c of [1, 16, 64])
    add("throughput", `json c=${c}`, `JSON p99 @${c}`, "latencyMs.p99", "ms", "lower");
  for (const c of [100, 1000]) {
    add("throughput", `stream c=${c}`, `stream events/s @${c} (ITL 0)`, "eventsPerSec", "ev/s", "higher");
  }
  for (const c of [100, 1000]) {
    add("latency", `latency c=${c}`, `TTFT p50 @${c}`, "ttftMs.p50", "ms", "lower");
    add("latency", `latency c=${c}`, `TTFT p99 @${c}`, "ttftMs.p99", "ms", "lower");
    add("latency", `latency c=${c}`, `ITL p50 @${c}`, "itlMs.p50", "ms", "lower");
    add("latency", `latency c=${c}`, `ITL p99 @${c}`, "itlMs.p99", "ms", "lower");
    add("latency", `latency c=${c}`, `TPOT p50 @${c}`, "tpotMs.p50", "ms", "lower");
    add("latency", `latency c=${c}`, `events/s @${c} (ITL 10)`, "eventsPerSec", "ev/s", "higher");
  }
  add("burst", "burst c=200", "TTFT p50 @burst of 200", "ttftMs.p50", "ms", "lower");
  add("burst", "burst c=200", "TTFT p99 @burst of 200", "ttftMs.p99", "ms", "lower");
  add("burst", "burst c=200", "ITL p99 @burst of 200", "itlMs.p99", "ms", "lower");
  for (const c of [1, 16, 64]) {
    add("throughput", `json c=${c}`, `proxy CPU ms/request @${c}`, "server.cpuMsPerRequest", "ms", "lower");
  }
  for (const c of [100, 1000]) {
    add("throughput", `stream c=${c}`, `proxy CPU µs/event @${c}`, "server.cpuUsPerEvent", "µs", "lower");
    add("throughput", `stream c=${c}`, `proxy CPU ms/stream @${c}`, "server.cpuMsPerRequest", "ms", "lower");
  }
  for (const phase of ["throughput", "latency"]) {
    const kind = phase === "throughput" ? "stream" : "latency";
    add(phase, `${kind} c=1000`, `proxy peak RSS @1000 (${phase})`, "server.rssPeakMb", "MB", "lower");
  }
  // The engine itself uses no proxy CPU; direct's "server" numbers are the engine's, so blank them.
  for (const r of rows) {
    if (r.metric.startsWith("proxy ")) {
      r.direct = null;
      r.gwOverDirect = null;
    }
  }
  return rows;
}

const fmt = (v) =>
  v === null || v === undefined ? "—" : typeof v === "number" ? String(round(v, 2)) : String(v);

export function ratioTableText(rows) {
  const head = [
    "metric",
    "direct",
    "floor",
    "gateway",
    "gw÷direct",
    "gw÷floor",
    "/llm",
    "/llm÷floor",
    "/llm÷gw",
  ];
  const body = rows.map((r) => [
    `${r.metric} (${r.unit})`,
    fmt(r.direct),
    fmt(r.floor),
    fmt(r.gateway),
    fmt(r.gwOverDirect),
    fmt(r.gwOverFloor),
    fmt(r.gatewayLlm),
    fmt(r.llmOverFloor),
    fmt(r.llmOverGw),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cols) =>
    cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

export function targetsText(targets) {
  return targets
    .map(
      (t) =>
        `${t.met ? "MET   " : "MISSED"} ${t.target}: ${fmt(t.measured)} (goal ${t.goal}, gap ${fmt(t.gap)})`,
    )
    .join("\n");
}

export function markdown(result) {
  const m = result.meta;
  const lines = [
    "# llm-runner bench: what the gateway costs on top of the engine",
    "",
    `Run ${m.finishedAt} · ${m.profile} profile · ${m.rounds} round(s), medians (error and mismatch counts summed) · ` +
      `${m.cpus}× ${m.cpuModel} · Node ${m.node} · load average at start ${m.loadAverageStart.join(" / ")}` +
      ` · ${m.layout ? `taskset layout "${m.layout.name}": load generator core ${m.layout.loadgen}, engines core ${m.layout.engine}, proxies core ${m.layout.proxy}` : "not pinned"}.`,
    "",
    `> ${m.note}`,
    "",
    "Targets: direct = the simulator engine alone; floor = a minimal node:http + undici pass-through in front of " +
      "the same engine; gateway = `llm-runner start` (auth, validation, pricing, ledger, metrics on) in front of " +
      "its own engine with the same flags. All three speak /v1/chat/completions with the same body; the last two " +
      "columns are the gateway's Livepeer route /llm (same engine, same token counts) and its ratios to the floor and to /v1.",
    "",
    ...result.phases_meta.map((p) => `* **${p.name}** phase: ${p.why} (sim flags: ${p.simFlags}).`),
    "",
    "## Targets",
    "",
    "| target | goal | measured | met | gap | detail |",
    "| --- | --- | ---: | --- | ---: | --- |",
    ...result.targets.map(
      (t) =>
        `| ${t.target} | ${t.goal} | ${fmt(t.measured)} | ${t.met ? "yes" : "**no**"} | ${fmt(t.gap)} | ${t.detail} |`,
    ),
    "",
    "## Ratios",
    "",
    "| metric | unit | direct | floor | gateway /v1 | gw ÷ direct | gw ÷ floor | gateway /llm | /llm ÷ floor | /llm ÷ /v1 |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...result.ratios.map(
      (r) =>
        `| ${r.metric} | ${r.unit} | ${fmt(r.direct)} | ${fmt(r.floor)} | ${fmt(r.gateway)} | ${fmt(r.gwOverDirect)} | ${fmt(r.gwOverFloor)} | ${fmt(r.gatewayLlm)} | ${fmt(r.llmOverFloor)} | ${fmt(r.llmOverGw)} |`,
    ),
    "",
    "Definitions (`vllm bench serve`): TTFT = request sent → first event with generated text; ITL = gap between " +
      "consecutive text events (all gaps of all requests pooled); TPOT = (end-to-end − TTFT) / (tokens − 1). " +
      "Rates count what arrived inside the measured window; latencies count requests that started inside it. " +
      "Proxy CPU = utime + stime of the proxy process (/proc/<pid>/stat) over the whole cell ÷ requests or text " +
      "events; RSS = the largest VmRSS sampled every 50 ms during the cell.",
  ];
  return `${lines.join("\n")}\n`;
}
