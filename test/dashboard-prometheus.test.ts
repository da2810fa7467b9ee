// The shipped Grafana dashboard against a real Prometheus (Debian's package; scripts/prometheus-setup.sh installs it,
// scripts/test.sh runs that): two runners started through the built CLI (simulator engine, process driver) — one
// plain, one with REPLICAS=2 and GATEWAY_WORKERS=2 — scraped every second. After traffic and a kill -9 of one
// engine, every query of dashboards/llm-runner.json goes through /api/v1/query and must return data for each runner,
// the per-replica panels must tell the replicas apart, and the counters must equal what the clients saw.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killGroup } from "../src/engine/process-group.js";
import { assertBuilt, freePort, waitFor } from "./helpers/cli.js";
import {
  call,
  chatBody,
  disconnectMidStream,
  type Route,
  type Runner,
  startRunner,
  stopAllRunners,
  words,
} from "./helpers/load.js";
import {
  type PrometheusServer,
  type PromSample,
  prometheusVersion,
  startPrometheus,
} from "./helpers/prometheus.js";

interface Panel {
  title: string;
  targets?: Array<{ expr: string }>;
  panels?: Panel[];
}

const dashboard = JSON.parse(
  readFileSync(new URL("../dashboards/llm-runner.json", import.meta.url), "utf8"),
) as { panels: Panel[] };

function panelQueries(): Array<{ panel: string; expr: string }> {
  const out: Array<{ panel: string; expr: string }> = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) out.push({ panel: p.title, expr: t.expr });
      if (p.panels) walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

/**
 * A panel query as Grafana would send it for one runner: $instance that runner's target; $__rate_interval a window
 * that holds the whole test's traffic (Grafana's is at least 4 scrape intervals).
 */
function forInstance(expr: string, instance: string): string {
  return expr.replaceAll("$instance", instance).replaceAll("$__rate_interval", "1m");
}

const ROUTES: Route[] = ["/llm", "/v1/chat/completions"];

/**
 * Requests as a gateway's clients send them, tallied as the clients saw them: "route code" → responses. A first
 * request per route, then `scraped` (its series must be in Prometheus before more come, or rate() sees no increase),
 * then the rest.
 */
async function traffic(runner: Runner, scraped: () => Promise<void>): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const saw = (route: string, code: number | null) => {
    const key = `${route} ${code}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  };
  const send = (i: number) => {
    const route = ROUTES[i % 2] as Route;
    return call(runner.url, route, chatBody(route, words(12, i), 16, i % 4 < 2)).then((res) => ({
      route,
      res,
    }));
  };
  const first = await Promise.all([send(0), send(1)]);
  await scraped();
  const answers = [...first, ...(await Promise.all(Array.from({ length: 8 }, (_, i) => send(i + 2))))];
  for (const { route, res } of answers) {
    expect(res.complete, res.error ?? "").toBe(true);
    saw(route, res.status);
  }
  // A client error (temperature out of range): the error panel's 4xx.
  const bad = await call(
    runner.url,
    "/llm",
    JSON.stringify({ messages: [{ role: "user", content: "hi" }], temperature: 5 }),
  );
  expect(bad.status).toBe(400);
  saw("/llm", bad.status);
  // A client that leaves mid-stream: the error panel's client_abort (its 200 went out with the headers).
  const route: Route = "/v1/chat/completions";
  expect(await disconnectMidStream(runner.port, route, chatBody(route, words(400), 400, true))).toBe(true);
  saw(route, 200);
  return seen;
}

function byLabels(samples: PromSample[], ...labels: string[]): Map<string, number> {
  return new Map(samples.map((s) => [labels.map((l) => s.metric[l] ?? "").join(" "), s.value]));
}

let prom: PrometheusServer | undefined;
const suiteStarted = Date.now();
let plain: Runner;
let wide: Runner;
const instance = (r: Runner) => `127.0.0.1:${r.port}`;

beforeAll(async () => {
  assertBuilt();
  prometheusVersion();
  const [plainPort, widePort] = [await freePort(), await freePort()];
  // Scraping starts at once; the runners answer when they listen.
  prom = await startPrometheus([`127.0.0.1:${plainPort}`, `127.0.0.1:${widePort}`]);
  [plain, wide] = await Promise.all([
    startRunner({ SIM_ITL_MS: "5" }, { port: plainPort }),
    // A 2 s load keeps the killed replica visibly not ready for a few scrapes.
    startRunner(
      { REPLICAS: "2", GATEWAY_WORKERS: "2", SIM_ITL_MS: "5", SIM_LOAD_SECONDS: "2" },
      { port: widePort },
    ),
  ]);
}, 180_000);

afterAll(async () => {
  await stopAllRunners();
  await prom?.stop();
});

describe(`dashboards/llm-runner.json on a real Prometheus`, () => {
  it("fills every panel for REPLICAS=1 and for REPLICAS=2 with GATEWAY_WORKERS=2, and tells the replicas apart", {
    timeout: 180_000,
  }, async () => {
    const server = prom as PrometheusServer;
    const started = Date.now();
    /** Waits for the next scrapes to show `want` (label values joined by a space → value); else the difference. */
    const eventually = async (expr: string, labels: string[], want: Record<string, number>) => {
      const sorted = (o: Record<string, number>) => JSON.stringify(Object.entries(o).sort());
      let got: Record<string, number> = {};
      await waitFor(
        async () => {
          got = Object.fromEntries(byLabels(await server.query(expr), ...labels));
          return sorted(got) === sorted(want);
        },
        15_000,
        expr,
      ).catch(() => expect(got, expr).toEqual(want));
    };
    console.log(`prometheus: ${prometheusVersion()}`);
    const scraped = (runner: Runner) => async () => {
      const expr = `sum(llm_runner_time_to_first_token_seconds_count{instance="${instance(runner)}"})`;
      await waitFor(async () => (await server.query(expr))[0]?.value === 2, 15_000, `${expr} to be 2`);
    };
    const [seenPlain, seenWide] = await Promise.all([
      traffic(plain, scraped(plain)),
      traffic(wide, scraped(wide)),
    ]);

    // Every response the clients got is counted once, also summed over two HTTP workers; every priced request too.
    for (const [runner, seen] of [
      [plain, seenPlain],
      [wide, seenWide],
    ] as const) {
      const i = `instance="${instance(runner)}"`;
      await eventually(
        `sum by (route, code) (llm_runner_http_responses_total{${i}, route=~"/llm|/v1/chat/completions"})`,
        ["route", "code"],
        Object.fromEntries(seen),
      );
      await eventually(`sum by (outcome) (llm_runner_requests_total{${i}})`, ["outcome"], {
        ok: 10,
        client_abort: 1,
      });
      // Every admitted request was routed once (the decision counted where the request was served).
      await eventually(`sum by (policy) (llm_runner_route_decisions_total{${i}})`, ["policy"], {
        prefix: 11,
      });
    }

    // kill -9 of replica 1's engine: the per-replica state panel shows it out while replica 0 stays ready.
    const replicas = JSON.parse(readFileSync(join(wide.home, "status.json"), "utf8")).replicas as Array<{
      replica: number;
      engineId: string;
    }>;
    const victim = Number(replicas.find((r) => r.replica === 1)?.engineId);
    expect(Number.isInteger(victim) && victim > 0).toBe(true);
    const statePanel = panelQueries().find((q) => q.panel === "Supervisor state per replica");
    const stateExpr = forInstance(statePanel?.expr ?? "", instance(wide));
    const states = async () => byLabels(await server.query(stateExpr), "replica", "state");
    killGroup(victim, "SIGKILL");
    const out = await waitFor(
      async () => {
        const now = await states();
        const one = [...now.keys()].filter((k) => k.startsWith("1 ")).map((k) => k.slice(2));
        return now.has("0 ready") && one.length === 1 && one[0] !== "ready" ? one[0] : null;
      },
      20_000,
      `${stateExpr}: replica 1 not ready while replica 0 is`,
    );
    console.log(`kill -9 of replica 1's engine: the state panel read replica 1 "${out}", replica 0 "ready"`);
    await waitFor(async () => (await states()).has("1 ready"), 30_000, `${stateExpr}: replica 1 ready again`);
    const restartsPanel = panelQueries().find((q) => q.panel === "Engine restarts per replica");
    await eventually(forInstance(restartsPanel?.expr ?? "", instance(wide)), ["replica"], { 0: 0, 1: 1 });

    // Every panel query, for each runner: some series, and a number in at least one of them.
    const empty: string[] = [];
    for (const runner of [plain, wide]) {
      for (const { panel, expr } of panelQueries()) {
        // The Models row's series exist only with LLM_RUNNER_MODELS_FILE (test/models-swap.test.ts checks them).
        if (expr.includes("llm_runner_model_")) continue;
        const q = forInstance(expr, instance(runner));
        const result = await server.query(q);
        if (!result.some((s) => Number.isFinite(s.value)))
          empty.push(`${instance(runner)} ${panel}: ${q} → ${JSON.stringify(result)}`);
      }
    }
    expect(empty).toEqual([]);
    // The runner variable lists both runners.
    const runners = new Set(
      (await server.query("llm_runner_supervisor_state")).map((s) => s.metric.instance),
    );
    expect(runners).toEqual(new Set([instance(plain), instance(wide)]));

    // The runner-wide series, with replicas and workers.
    const at = (expr: string) => server.query(expr).then((r) => r.map((s) => s.value));
    const w = `instance="${instance(wide)}"`;
    expect(await at(`llm_runner_loading_progress{${w}}`)).toEqual([1]);
    expect(await at(`count(llm_runner_canary_requests_total{${w}})`)).toEqual([3]);
    const [startTime] = await at(`process_start_time_seconds{${w}}`);
    expect(startTime).toBeGreaterThanOrEqual(Math.floor(suiteStarted / 1000) - 1);
    expect(startTime).toBeLessThanOrEqual(Date.now() / 1000);
    const [fdsWide] = await at(`process_max_fds{${w}}`);
    expect([fdsWide]).toEqual(await at(`process_max_fds{instance="${instance(plain)}"}`));
    // A queue of minutes still lands in a bucket: vLLM's bounds, to 2,560 s.
    expect(await at(`count(llm_runner_time_to_first_token_seconds_bucket{${w}, le="2560"})`)).toEqual([2]);
    console.log(`dashboard checked on a real Prometheus in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
});
