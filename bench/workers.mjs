// `npm run bench:workers`: GATEWAY_WORKERS=1 against GATEWAY_WORKERS=2, side by side in one run (issue 14 item 4).
// On a 2-core machine more workers cannot add cores: the load generator and the engine hold core 0, and every
// process of the gateway under test (the runner's process and its workers) is pinned to core 1. What this
// measures is the cost of the split — CPU per event and per request summed over the runner's processes, and
// how much of it the runner's process (admission over IPC) takes — from which a node with more cores is
// projected: events/s per core × cores against an 8-GPU node's ~40 k events/s.
//
//   npm run bench:workers                 # 3 rounds, medians (~3 minutes)
//   npm run bench:workers -- --rounds 1
//   npm run bench:workers -- --layout spread   # the gateway's processes not pinned (may use both cores)
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runCell } from "./lib/load.mjs";
import { canPin, cpuSeconds, ProcessSet, pinSelf, sleep } from "./lib/procs.mjs";
import { LAYOUTS, LIMITS, openAiBody, STREAM_TOKENS } from "./lib/scenario.mjs";
import { startDirectEngine, startGateway } from "./lib/servers.mjs";
import { median, round } from "./lib/stats.mjs";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = path.join(REPO, "bench/results");
const NODE_EVENTS_PER_SECOND = 40_000; // an 8-GPU node, 8B model, ~5 k tokens/s per H100 (the issue)
const CELLS = [
  { name: "stream c=100", stream: true, concurrency: 100, warmupMs: 800, durationMs: 2_000 },
  { name: "json c=64", stream: false, concurrency: 64, warmupMs: 400, durationMs: 1_500 },
];
const log = (line) => process.stderr.write(`${line}\n`);

function parseCli() {
  const { values } = parseArgs({
    options: { rounds: { type: "string", default: "3" }, layout: { type: "string", default: "split" } },
    strict: true,
  });
  if (!["split", "spread"].includes(values.layout)) {
    process.stderr.write(`--layout must be split or spread (got "${values.layout}").\n`);
    process.exit(2);
  }
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) {
    process.stderr.write(`--rounds must be a whole number from 1 to 10 (got "${values.rounds}").\n`);
    process.exit(2);
  }
  return { rounds, layout: values.layout };
}

/** The runner's process and its HTTP workers (children running worker-main.js); not its engine. */
function gatewayPids(runnerPid) {
  const children = readFileSync(`/proc/${runnerPid}/task/${runnerPid}/children`, "utf8").trim();
  const workers = children === "" ? [] : children.split(/\s+/).map(Number);
  return {
    primary: runnerPid,
    workers: workers.filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("worker-main.js");
      } catch {
        return false;
      }
    }),
  };
}

const cpuOf = (pids) => pids.reduce((sum, pid) => sum + (cpuSeconds(pid) ?? 0), 0);

/** Context switches (voluntary + not) of every thread of the processes: how often they woke up. */
function switchesOf(pids) {
  let sum = 0;
  for (const pid of pids) {
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
        sum += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
        sum += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      }
    } catch {
      // gone
    }
  }
  return sum;
}

async function measure(target, cell) {
  const pids = target.pids;
  const all = [pids.primary, ...pids.workers];
  const before = { primary: cpuOf([pids.primary]), workers: cpuOf(pids.workers), switches: switchesOf(all) };
  const res = await runCell({
    target: { ...target, body: target.makeBody(cell.stream ? STREAM_TOKENS : 16) },
    stream: cell.stream,
    concurrency: cell.concurrency,
    warmupMs: cell.warmupMs ?? 0,
    durationMs: cell.durationMs ?? 0,
    drainMs: 20_000,
    expectedTokens: cell.stream ? STREAM_TOKENS : 16,
    burst: cell.burst === true,
  });
  const primary = cpuOf([pids.primary]) - before.primary;
  const workers = cpuOf(pids.workers) - before.workers;
  const switches = switchesOf(all) - before.switches;
  const per = cell.stream ? res.events : res.completed;
  return {
    rate: cell.stream ? res.eventsPerSec : res.reqPerSec,
    errors: res.errors,
    ttftP50: res.ttftMs?.p50 ?? null,
    ttftP99: res.ttftMs?.p99 ?? null,
    cpuUsPerUnit: per > 0 ? ((primary + workers) * 1e6) / per : null,
    primaryUsPerUnit: per > 0 ? (primary * 1e6) / per : null,
    workersUsPerUnit: per > 0 ? (workers * 1e6) / per : null,
    eventsPerSwitch: switches > 0 ? per / switches : null,
  };
}

async function startPair(procs, tmp, sim, cores, phase) {
  const started = {};
  for (const n of [1, 2]) {
    const home = path.join(tmp, `${phase}-w${n}`);
    mkdirSync(home, { recursive: true });
    const gw = await startGateway(procs, {
      repo: REPO,
      home,
      sim,
      limits: LIMITS,
      cores,
      env: { GATEWAY_WORKERS: String(n) },
    });
    const pids = gatewayPids(gw.pid);
    if (n > 1 && pids.workers.length !== n)
      throw new Error(`expected ${n} workers, found ${pids.workers.length}`);
    const model = gw.engineArgv[gw.engineArgv.indexOf("--served-model-name") + 1];
    started[n] = {
      name: `GATEWAY_WORKERS=${n}`,
      origin: gw.origin,
      path: "/v1/chat/completions",
      headers: { authorization: `Bearer ${gw.token}` },
      makeBody: (t) => openAiBody(model, t),
      pids,
      gw,
    };
  }
  return started;
}

async function main() {
  const { rounds, layout: layoutName } = parseCli();
  const cpus = os.cpus().length;
  // split: every gateway process on core 1; spread: the gateway's processes free to use every core (the load
  // generator and the engine stay on core 0), so two workers can run at once.
  const layout = canPin(cpus)
    ? layoutName === "split"
      ? LAYOUTS.split
      : { loadgen: 0, engine: 0, proxy: null }
    : null;
  if (layout) pinSelf(layout.loadgen);
  const procs = new ProcessSet();
  const tmp = mkdtempSync(path.join(os.tmpdir(), "llm-runner-bench-workers-"));
  process.once("exit", () => procs.killAllNow());
  const rows = {};
  const add = (key, name, value) => {
    rows[key] ??= {};
    rows[key][name] ??= [];
    rows[key][name].push(value);
  };
  try {
    log(
      `bench:workers, ${rounds} round(s), ${cpus} cores, layout ${layout ? JSON.stringify(layout) : "unpinned"}`,
    );
    // Throughput: the engine as fast as it goes.
    let pair = await startPair(procs, tmp, { itlMs: 0, ttftMs: 0 }, layout, "throughput");
    for (let r = 0; r < rounds; r++) {
      for (const cell of CELLS) {
        for (const n of r % 2 === 0 ? [1, 2] : [2, 1]) {
          const res = await measure(pair[n], cell);
          add(cell.name, pair[n].name, res);
          log(`[${r + 1}/${rounds}] ${cell.name} ${pair[n].name}: ${JSON.stringify(res)}`);
          await sleep(200);
        }
      }
    }
    for (const n of [1, 2]) await procs.stop(pair[n].gw.pid, 45_000);
    // Burst: 200 streams at once (TTFT 20 ms, ITL 10 ms), against the engine alone as the reference.
    pair = await startPair(procs, tmp, { itlMs: 10, ttftMs: 20 }, layout, "burst");
    const direct = await startDirectEngine(procs, {
      repo: REPO,
      engineArgv: pair[1].gw.engineArgv,
      home: path.join(tmp, "burst-w1"),
      cores: layout,
    });
    const model = pair[1].gw.engineArgv[pair[1].gw.engineArgv.indexOf("--served-model-name") + 1];
    const engineAlone = {
      name: "engine alone",
      origin: direct.origin,
      path: "/v1/chat/completions",
      headers: { authorization: `Bearer ${direct.key}` },
      makeBody: (t) => openAiBody(model, t),
      pids: { primary: direct.pid, workers: [] },
    };
    const burst = { name: "burst c=200", stream: true, concurrency: 200, burst: true };
    for (let r = 0; r < rounds; r++) {
      for (const target of [engineAlone, pair[1], pair[2]]) {
        const res = await measure(target, burst);
        add(burst.name, target.name, res);
        log(
          `[${r + 1}/${rounds}] burst ${target.name}: TTFT p50 ${round(res.ttftP50, 1)} p99 ${round(res.ttftP99, 1)} ms`,
        );
        await sleep(300);
      }
    }
    const med = (key, name, field) => round(median(rows[key][name].map((x) => x[field])), 2);
    const w1 = "GATEWAY_WORKERS=1";
    const w2 = "GATEWAY_WORKERS=2";
    const lines = [
      "| measure | GATEWAY_WORKERS=1 | GATEWAY_WORKERS=2 | 2 ÷ 1 |",
      "| --- | ---: | ---: | ---: |",
    ];
    const row = (label, key, field) => {
      const a = med(key, w1, field);
      const b = med(key, w2, field);
      lines.push(`| ${label} | ${a} | ${b} | ${round(b / a, 2)} |`);
    };
    row("stream events/s @100", "stream c=100", "rate");
    row("CPU µs per event, all gateway processes", "stream c=100", "cpuUsPerUnit");
    row("… of which the runner's process", "stream c=100", "primaryUsPerUnit");
    row("… of which the workers", "stream c=100", "workersUsPerUnit");
    row("events per context switch (all gateway processes)", "stream c=100", "eventsPerSwitch");
    row("JSON req/s @64", "json c=64", "rate");
    row("CPU µs per JSON request, all gateway processes", "json c=64", "cpuUsPerUnit");
    row("… of which the runner's process", "json c=64", "primaryUsPerUnit");
    const alone = {
      p50: med(burst.name, "engine alone", "ttftP50"),
      p99: med(burst.name, "engine alone", "ttftP99"),
    };
    for (const name of [w1, w2]) {
      lines.push(
        `| burst of 200: added TTFT p50 / p99 over the engine alone (ms), ${name} | ${round(med(burst.name, name, "ttftP50") - alone.p50, 1)} / ${round(med(burst.name, name, "ttftP99") - alone.p99, 1)} | | |`,
      );
    }
    const errors = Object.values(rows)
      .flatMap((byName) => Object.values(byName).flat())
      .reduce((s, x) => s + x.errors, 0);
    // Projection: on a machine with C cores, C − 1 workers each relay 1e6 / W events/s on a core of their own
    // (W = the workers' CPU per event), and the runner's process, one process, caps the total at 1e6 / P
    // (P = its CPU per event: admission and slot messages, spread over each request's events).
    const workerUs = med("stream c=100", w2, "workersUsPerUnit");
    const primaryUs = med("stream c=100", w2, "primaryUsPerUnit");
    const projected = (c) => Math.round(Math.min(((c - 1) * 1e6) / workerUs, 1e6 / primaryUs));
    const projection = [4, 8, 16].map((c) => ({ cores: c, eventsPerSecond: projected(c) }));
    const md = [
      "# GATEWAY_WORKERS: one HTTP process against two (`npm run bench:workers`)",
      "",
      `Run ${new Date().toISOString()} · ${rounds} round(s), medians · ${cpus}× ${os.cpus()[0]?.model ?? "cpu"} · Node ${process.version} · load average at start ${os
        .loadavg()
        .map((v) => round(v, 2))
        .join(
          " / ",
        )} · layout ${layoutName}: load generator and engine on core 0, ${layoutName === "split" ? "every gateway process on core 1" : "the gateway's processes on any core"}.`,
      "",
      ...lines,
      "",
      `Errors over every cell: ${errors}.`,
      "",
      `Projection: the workers need ${round(workerUs, 1)} µs of CPU per streamed event and the runner's process ${round(primaryUs, 1)} µs (its ceiling: ${Math.round(1e6 / primaryUs).toLocaleString("en")} events/s). With C cores (C − 1 workers): ${projection.map((p) => `${p.cores} cores (${p.cores - 1} workers) ≈ ${p.eventsPerSecond.toLocaleString("en")} events/s`).join(", ")}, against an 8-GPU node's ~${NODE_EVENTS_PER_SECOND.toLocaleString("en")}.`,
      "",
    ].join("\n");
    process.stdout.write(`${md}\n`);
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(path.join(RESULTS, `workers-${layoutName}.md`), md);
    writeFileSync(
      path.join(RESULTS, `workers-${layoutName}.json`),
      `${JSON.stringify({ rounds, layout: layoutName, rows }, null, 2)}\n`,
    );
    log(`wrote bench/results/workers-${layoutName}.{md,json}`);
  } finally {
    await procs.stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
