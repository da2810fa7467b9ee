// The shipped Grafana dashboard (dashboards/llm-runner.json) only queries series that /metrics really exposes:
// a real gateway in front of the real simulator engine serves a few requests, then its /metrics is scraped
// and every metric name in every panel query (and template variable) must be among the scraped series.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SimEngine, startSimEngine } from "./helpers/sim-engine.js";
import { type RunningGateway, startGatewayOn } from "./helpers/static-supervisor.js";

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string; legendFormat?: string }>;
  panels?: Panel[];
}

const dashboard = JSON.parse(
  readFileSync(new URL("../dashboards/llm-runner.json", import.meta.url), "utf8"),
) as {
  panels: Panel[];
  templating: { list: Array<{ name: string; definition?: string }> };
};

const PROMQL_WORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "and",
  "or",
  "unless",
  "offset",
  "inf",
  "nan",
]);

/**
 * The metric names a PromQL expression selects: identifiers left once strings, label matchers, ranges,
 * grouping clauses and function calls are taken out.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const next = stripped.slice((m.index ?? 0) + word.length).trimStart();
    if (next.startsWith("(") || PROMQL_WORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names];
}

/** Every series name with a sample line in a Prometheus text exposition. */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (m?.[1]) names.add(m[1]);
  }
  return names;
}

function queries(): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) out.push({ where: p.title, expr: t.expr });
      if (p.panels) walk(p.panels);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating.list) {
    const m = /^label_values\((\w+),/.exec(v.definition ?? "");
    if (m?.[1]) out.push({ where: `variable $${v.name}`, expr: m[1] });
  }
  return out;
}

describe("metricNames (the query reader the check relies on)", () => {
  it("finds the selected series and nothing else", () => {
    expect(
      metricNames(
        'histogram_quantile(0.9, sum by (le) (rate(llm_runner_ttft_bucket{instance=~"$instance", code!~"2.."}[$__rate_interval])))',
      ),
    ).toEqual(["llm_runner_ttft_bucket"]);
    expect(metricNames("sum(rate(a_total[5m])) / sum(rate(vllm:b_total[5m])) * on(x) c")).toEqual([
      "a_total",
      "vllm:b_total",
      "c",
    ]);
    expect(metricNames('process_resident_memory_bytes{x="y"} / 2^30')).toEqual([
      "process_resident_memory_bytes",
    ]);
  });
});

describe("dashboards/llm-runner.json", () => {
  let sim: SimEngine;
  let gw: RunningGateway;
  const MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct";

  beforeAll(async () => {
    sim = await startSimEngine({ modelId: MODEL, maxNumSeqs: 4, args: ["--sim-itl-ms", "2"] });
    gw = await startGatewayOn(sim.endpoint, { modelId: MODEL });
  });
  afterAll(async () => {
    await gw?.close();
    await sim?.stop();
  });

  it("has the panels the operators need", () => {
    const titles = dashboard.panels.map((p) => p.title);
    for (const t of [
      "Supervisor state per replica",
      "Engine restarts per replica",
      "Requests by route and status",
      "Errors by route and status",
      "Time to first token",
      "Inter-token latency",
      "Tokens per second",
      "Queue depth and in-flight",
      "Revenue per hour: quoted vs usage-based",
      "Event-loop lag",
      "KV-cache usage",
      "Requests running and waiting",
      "Route decisions by reason",
      "Prefix-cache hit rate by replica",
      "Model state",
      "Model wakes and sleeps",
      "Model wake time",
      "Model active requests",
    ]) {
      expect(titles).toContain(t);
    }
  });

  it("draws the per-replica panels and the engine's KV cache from per-replica series, one legend per replica", () => {
    const byTitle = (title: string) => dashboard.panels.find((p) => p.title === title);
    const perReplica = dashboard.panels.filter((p) => / per replica$/.test(p.title));
    expect(perReplica.map((p) => p.title)).toEqual([
      "Supervisor state per replica",
      "Engine restarts per replica",
    ]);
    for (const panel of perReplica) {
      for (const t of panel.targets ?? []) {
        // llm_runner_supervisor_state & co. are the runner's fold: ready while any replica is (README, Replicas).
        expect(
          metricNames(t.expr).every((n) => n.startsWith("llm_runner_replica_")),
          t.expr,
        ).toBe(true);
        expect(t.legendFormat).toContain("{{replica}}");
      }
    }
    expect(byTitle("KV-cache usage")?.targets?.every((t) => t.legendFormat?.includes("{{replica}}"))).toBe(
      true,
    );
  });

  it("draws the router's decisions by policy and reason, and each engine's own prefix-cache hit rate", () => {
    const byTitle = (title: string) => dashboard.panels.find((p) => p.title === title);
    const decisions = byTitle("Route decisions by reason")?.targets ?? [];
    expect(decisions.map((t) => metricNames(t.expr))).toEqual([["llm_runner_route_decisions_total"]]);
    expect(decisions[0]?.expr).toMatch(/by \(instance, policy, reason\)/);
    const hits = byTitle("Prefix-cache hit rate by replica")?.targets ?? [];
    expect(hits.map((t) => metricNames(t.expr))).toEqual([
      ["vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total"],
    ]);
    expect(hits[0]?.legendFormat).toContain("{{replica}}");
  });

  it("queries only series that /metrics exposes", async () => {
    const post = (body: unknown) =>
      fetch(`${gw.url}/llm`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const messages = [{ role: "user", content: "hello there" }];
    const streamed = await post({ messages, max_tokens: 8, stream: true });
    expect(streamed.status).toBe(200);
    await streamed.text();
    const plain = await post({ messages, max_tokens: 4 });
    expect(plain.status).toBe(200);
    await plain.text();
    const bad = await post({ messages, temperature: 5 });
    expect(bad.status).toBeGreaterThanOrEqual(400); // a client error, whichever code /llm maps it to
    await bad.text();

    const res = await fetch(`${gw.url}/metrics`);
    expect(res.status).toBe(200);
    const exposed = exposedNames(await res.text());
    const all = queries();
    expect(all.length).toBeGreaterThan(20);
    // The Models row's series exist only with LLM_RUNNER_MODELS_FILE: test/models-swap.test.ts checks them.
    const missing = all.flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((n) => !exposed.has(n) && !n.startsWith("llm_runner_model_"))
        .map((n) => `${where}: ${n}`),
    );
    expect(missing).toEqual([]);
  });
});
