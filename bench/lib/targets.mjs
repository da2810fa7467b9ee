// The issues' targets (issue 7's latency goals, issue 14's /llm, floor and burst goals), each met or not, with the
// measured value and the gap.
import { get, ratio, T } from "./report.mjs";
import { round } from "./stats.mjs";

function cellOf(phases, phase, cell, target) {
  return phases[phase]?.cells?.[cell]?.[target] ?? null;
}

/** Every target, met or not, with the measured value and the gap. */
export function evaluateTargets(phases) {
  const out = [];
  const push = (name, goal, measured, met, gap, detail = "") =>
    out.push({ target: name, goal, measured: round(measured, 3), met, gap: round(gap, 3), detail });

  const l100 = (t) => cellOf(phases, "latency", "latency c=100", t);
  const added = (metric, t = T.gw) => {
    const g = get(l100(t), metric);
    const d = get(l100(T.direct), metric);
    return typeof g === "number" && typeof d === "number" ? g - d : null;
  };
  const upTo = (name, goal, value, limit) =>
    push(name, goal, value, value !== null && value < limit, value === null ? null : value - limit);

  upTo("added TTFT p50 @100 streams (ms)", "< 1 ms", added("ttftMs.p50"), 1);
  upTo("added TTFT p99 @100 streams (ms)", "< 5 ms", added("ttftMs.p99"), 5);
  upTo("added ITL p99 @100 streams (ms)", "< 1 ms", added("itlMs.p99"), 1);

  // Events out = events in, for every streamed cell of every target.
  let mismatches = 0;
  let engineGap = 0;
  let streams = 0;
  for (const phase of Object.values(phases)) {
    for (const [key, targets] of Object.entries(phase.cells)) {
      if (key.startsWith("json")) continue;
      for (const r of Object.values(targets)) {
        mismatches += r.eventMismatches ?? 0;
        engineGap += Math.abs(r.engineTokenGap ?? 0);
        streams += r.completed ?? 0;
      }
    }
  }
  push(
    "no chunk merged: events out = events in",
    "0 streams with text events ≠ usage.completion_tokens; engine tokens = client events",
    mismatches + engineGap,
    mismatches === 0 && engineGap === 0,
    mismatches + engineGap,
    `${mismatches} mismatched streams, engine/client token difference ${engineGap}, over ${streams} streams`,
  );

  // Issue 14: a ratio of two targets in one cell, at least or at most a bound.
  const cmp = (name, phase, cell, metric, a, b, bound, atLeast) => {
    const r = ratio(get(cellOf(phases, phase, cell, a), metric), get(cellOf(phases, phase, cell, b), metric));
    const met = r !== null && (atLeast ? r >= bound : r <= bound);
    push(name, `${atLeast ? "≥" : "≤"} ${bound.toFixed(2)}`, r, met, r === null ? null : r - bound);
  };
  const routes = [
    ["/v1", T.gw],
    ["/llm", T.llm],
  ];
  // 1. /llm within 10 % of /v1 on every row of the table.
  cmp(
    "/llm ÷ /v1: proxy CPU ms per JSON request @1",
    "throughput",
    "json c=1",
    "server.cpuMsPerRequest",
    T.llm,
    T.gw,
    1.1,
    false,
  );
  cmp("/llm ÷ /v1: JSON req/s @64", "throughput", "json c=64", "reqPerSec", T.llm, T.gw, 0.9, true);
  cmp(
    "/llm ÷ /v1: stream events/s @100 (ITL 0)",
    "throughput",
    "stream c=100",
    "eventsPerSec",
    T.llm,
    T.gw,
    0.9,
    true,
  );
  cmp(
    "/llm ÷ /v1: proxy CPU µs/event @100",
    "throughput",
    "stream c=100",
    "server.cpuUsPerEvent",
    T.llm,
    T.gw,
    1.1,
    false,
  );
  // 2. Both routes against the floor.
  for (const [route, t] of routes) {
    for (const c of [100, 1000]) {
      cmp(
        `${route} stream events/s @${c} ≥ 90 % of floor`,
        "throughput",
        `stream c=${c}`,
        "eventsPerSec",
        t,
        T.floor,
        0.9,
        true,
      );
    }
    for (const c of [1, 16, 64]) {
      cmp(
        `${route} JSON req/s @${c} ≥ 80 % of floor`,
        "throughput",
        `json c=${c}`,
        "reqPerSec",
        t,
        T.floor,
        0.8,
        true,
      );
    }
    cmp(
      `${route} proxy CPU µs/event @100 ≤ 1.3 × floor`,
      "throughput",
      "stream c=100",
      "server.cpuUsPerEvent",
      t,
      T.floor,
      1.3,
      false,
    );
  }
  // 3. A burst of 200 streams: what the gateway adds to TTFT over the engine alone.
  for (const [route, t] of routes) {
    const addedBurst = (metric) => {
      const g = get(cellOf(phases, "burst", "burst c=200", t), metric);
      const d = get(cellOf(phases, "burst", "burst c=200", T.direct), metric);
      return typeof g === "number" && typeof d === "number" ? g - d : null;
    };
    upTo(`${route} added TTFT p50 @burst of 200 (ms)`, "< 2 ms", addedBurst("ttftMs.p50"), 2);
    upTo(`${route} added TTFT p99 @burst of 200 (ms)`, "< 10 ms", addedBurst("ttftMs.p99"), 10);
  }

  const rss = Math.max(
    ...["throughput:stream c=1000", "latency:latency c=1000"].flatMap((k) => {
      const [phase, cell] = k.split(":");
      return [T.gw, T.llm].map((t) => cellOf(phases, phase, cell, t)?.server?.rssPeakMb ?? Number.NaN);
    }),
  );
  push("gateway RSS @1000 streams < 200 MB", "< 200 MB", rss, rss < 200, rss - 200);

  let errors = 0;
  const where = [];
  for (const [phaseName, phase] of Object.entries(phases)) {
    for (const [key, targets] of Object.entries(phase.cells)) {
      for (const t of [T.gw, T.llm]) {
        const n = targets[t]?.errors ?? 0;
        if (n > 0)
          where.push(`${phaseName} ${key} ${t}: ${n} (${(targets[t].errorSamples ?? []).join("; ")})`);
        errors += n;
      }
    }
  }
  push("no error at any load level (gateway)", "0", errors, errors === 0, errors, where.join(" | "));
  return out;
}
