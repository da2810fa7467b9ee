// `npm run bench`: what the gateway costs on top of the engine, measured side by side in one run.
// Direct engine vs a floor proxy vs the gateway, same simulator flags, same machine; see bench/README.md.
//
//   npm run bench                      # full: every cell 3 times, medians (~5 minutes)
//   npm run bench -- --quick           # one round, shorter cells (~1.5 minutes)
//   npm run bench -- --profile         # also run the gateway under `node --cpu-prof` and summarise self time
//   npm run bench -- --rounds 5 --strict
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { profileMarkdown, summarizeProfile } from "./lib/cpu-profile.mjs";
import { runCell } from "./lib/load.mjs";
import { canPin, cpuSeconds, memoryMb, ProcessSet, pinSelf, sleep } from "./lib/procs.mjs";
import { markdown, ratioRows, ratioTableText, targetsText } from "./lib/report.mjs";
import {
  cellKey,
  cellTiming,
  JSON_TOKENS,
  LAYOUTS,
  LIMITS,
  llmBody,
  openAiBody,
  PHASES,
  PROFILES,
  STREAM_TOKENS,
} from "./lib/scenario.mjs";
import { engineGeneratedTokens, startDirectEngine, startFloor, startGateway } from "./lib/servers.mjs";
import { medianOf, round } from "./lib/stats.mjs";
import { evaluateTargets } from "./lib/targets.mjs";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = path.join(REPO, "bench/results");
const HELP = `Usage: npm run bench -- [--quick] [--rounds N] [--layout shared|split] [--profile] [--strict] [--keep-tmp]

  --quick      one round of shorter cells (a smoke run; noisier)
  --rounds N   repeat every cell N times and report medians (default 3, or 1 with --quick)
  --layout L   shared (default): load generator on core 0, engines and proxies on core 1;
               split: load generator and engines on core 0, the proxy (floor or gateway) alone on core 1
  --profile    run the gateway under node --cpu-prof; writes bench/results/profile.{json,md} instead of latest.*
  --strict     exit 1 when a target is missed
  --keep-tmp   keep the temporary LLM_RUNNER_HOME folders (logs, ledger, profiles)
`;

function parseCli() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        quick: { type: "boolean" },
        rounds: { type: "string" },
        layout: { type: "string", default: "shared" },
        profile: { type: "boolean" },
        strict: { type: "boolean" },
        "keep-tmp": { type: "boolean" },
        help: { type: "boolean" },
      },
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`${err.message}\n\n${HELP}`);
    process.exit(2);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const profile = { ...PROFILES[v.quick ? "quick" : "full"] };
  if (v.rounds !== undefined) {
    const n = Number(v.rounds);
    if (!Number.isInteger(n) || n < 1 || n > 20) {
      process.stderr.write(`--rounds must be a whole number from 1 to 20 (got "${v.rounds}").\n`);
      process.exit(2);
    }
    profile.rounds = n;
  }
  if (!Object.hasOwn(LAYOUTS, v.layout)) {
    process.stderr.write(
      `--layout must be one of: ${Object.keys(LAYOUTS).join(", ")} (got "${v.layout}").\n`,
    );
    process.exit(2);
  }
  return {
    layout: v.layout,
    profileName: v.quick ? "quick" : "full",
    timing: profile,
    cpuProf: v.profile === true,
    strict: v.strict === true,
    keepTmp: v["keep-tmp"] === true,
  };
}

const log = (line) => process.stderr.write(`${line}\n`);

function describe(res) {
  const err = res.errors ? ` ERRORS ${res.errors}: ${res.errorSamples.join("; ")}` : "";
  const cpu =
    res.server.cpuUsPerEvent != null
      ? ` cpu ${round(res.server.cpuUsPerEvent, 1)} µs/ev`
      : res.server.cpuMsPerRequest != null
        ? ` cpu ${round(res.server.cpuMsPerRequest, 3)} ms/req`
        : "";
  if (!res.stream) {
    return `${round(res.reqPerSec, 0)} req/s p50 ${round(res.latencyMs.p50, 2)} p99 ${round(res.latencyMs.p99, 2)} ms${cpu}${err}`;
  }
  return (
    `${round(res.eventsPerSec, 0)} ev/s TTFT p50 ${round(res.ttftMs.p50, 1)} p99 ${round(res.ttftMs.p99, 1)} ` +
    `ITL p50 ${round(res.itlMs.p50, 2)} p99 ${round(res.itlMs.p99, 2)} ms${cpu} rss ${round(res.server.rssPeakMb, 0)} MB` +
    ` tokens engine/client ${res.engineTokens}/${res.events}${err}`
  );
}

/** One cell against one target, with the proxy's CPU time, RSS and the engine's token count around it. */
async function measure(target, cell, timing) {
  const stream = cell.kind !== "json";
  const durations = cellTiming(timing, cell);
  const tokens = stream ? STREAM_TOKENS : JSON_TOKENS;
  const cpu0 = cpuSeconds(target.serverPid);
  const tokens0 = await engineGeneratedTokens(target.engineOrigin);
  let rssPeak = memoryMb(target.serverPid)?.rss ?? 0;
  const sampler = setInterval(() => {
    const m = memoryMb(target.serverPid);
    if (m && m.rss > rssPeak) rssPeak = m.rss;
  }, 50);
  let res;
  try {
    res = await runCell({
      target: { ...target, body: target.makeBody(tokens) },
      stream,
      concurrency: cell.concurrency,
      warmupMs: durations.warmupMs,
      durationMs: durations.durationMs,
      drainMs: timing.drainMs,
      expectedTokens: tokens,
      burst: cell.kind === "burst",
    });
  } finally {
    clearInterval(sampler);
  }
  const cpu = (cpuSeconds(target.serverPid) ?? Number.NaN) - (cpu0 ?? Number.NaN);
  const engineTokens = (await engineGeneratedTokens(target.engineOrigin)) - tokens0;
  const clientTokens = stream ? res.events : res.usageTokens;
  return {
    ...res,
    engineTokens,
    engineTokenGap: engineTokens - clientTokens,
    server: {
      pid: target.serverPid,
      cpuSeconds: cpu,
      cpuMsPerRequest: res.completed > 0 ? (cpu * 1000) / res.completed : null,
      cpuUsPerEvent: stream && res.events > 0 ? (cpu * 1e6) / res.events : null,
      rssPeakMb: rssPeak,
      rssHighWaterMb: memoryMb(target.serverPid)?.peak ?? null,
    },
  };
}

function rotate(list, by) {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

function simFlags(argv) {
  const out = [];
  for (let i = 0; i < argv.length; i++) {
    if (/^--(sim-|max-)/.test(argv[i])) out.push(`${argv[i]} ${argv[i + 1]}`);
  }
  return out.join(" ");
}

async function runPhase(phase, ctx) {
  const home = path.join(ctx.tmp, phase.name);
  mkdirSync(home, { recursive: true });
  const profDir = ctx.cpuProf ? path.join(home, "cpuprofile") : null;
  if (profDir) mkdirSync(profDir, { recursive: true });
  log(`\n== ${phase.name} phase: ${phase.why}`);
  const gw = await startGateway(ctx.procs, {
    repo: REPO,
    home,
    sim: phase.sim,
    limits: LIMITS,
    cores: ctx.cores,
    cpuProfDir: profDir,
  });
  const direct = await startDirectEngine(ctx.procs, {
    repo: REPO,
    engineArgv: gw.engineArgv,
    home,
    cores: ctx.cores,
  });
  const floor = await startFloor(ctx.procs, {
    repo: REPO,
    upstream: direct.origin,
    key: direct.key,
    home,
    connections: LIMITS.maxNumSeqs + LIMITS.queueSize + 16,
    cores: ctx.cores,
  });
  const model = gw.engineArgv[gw.engineArgv.indexOf("--served-model-name") + 1];
  log(
    `gateway pid ${gw.pid} (engine ${gw.enginePid}), direct engine pid ${direct.pid}, floor pid ${floor.pid}`,
  );
  log(`engine flags: ${simFlags(gw.engineArgv)}`);
  const v1 = "/v1/chat/completions";
  const targets = [
    {
      name: "direct",
      origin: direct.origin,
      path: v1,
      headers: { authorization: `Bearer ${direct.key}` },
      makeBody: (n) => openAiBody(model, n),
      serverPid: direct.pid,
      engineOrigin: direct.origin,
    },
    {
      name: "floor",
      origin: floor.origin,
      path: v1,
      headers: {},
      makeBody: (n) => openAiBody(model, n),
      serverPid: floor.pid,
      engineOrigin: direct.origin,
    },
    {
      name: "gateway",
      origin: gw.origin,
      path: v1,
      headers: { authorization: `Bearer ${gw.token}` },
      makeBody: (n) => openAiBody(model, n),
      serverPid: gw.pid,
      engineOrigin: gw.engineOrigin,
    },
    {
      name: "gateway /llm",
      origin: gw.origin,
      path: "/llm",
      headers: { authorization: `Bearer ${gw.token}` },
      makeBody: (n) => llmBody(n),
      serverPid: gw.pid,
      engineOrigin: gw.engineOrigin,
    },
  ];
  const raw = {};
  for (let r = 0; r < ctx.timing.rounds; r++) {
    for (const [ci, cell] of phase.cells.entries()) {
      const key = cellKey(cell);
      raw[key] ??= {};
      // A different target goes first each round, so drift on a shared machine does not favour one.
      for (const target of rotate(targets, r + ci)) {
        const res = await measure(target, cell, ctx.timing);
        raw[key][target.name] ??= [];
        raw[key][target.name].push(res);
        log(
          `[${phase.name} ${r + 1}/${ctx.timing.rounds}] ${key.padEnd(16)} ${target.name.padEnd(12)} ${describe(res)}`,
        );
        await sleep(200);
      }
    }
  }
  const gatewayPeakMb = memoryMb(gw.pid)?.peak ?? null;
  await ctx.procs.stop(floor.pid);
  await ctx.procs.stop(direct.pid);
  await ctx.procs.stop(gw.pid, 45_000); // drains, stops its engine, writes the CPU profile
  const cells = {};
  for (const [key, byTarget] of Object.entries(raw)) {
    cells[key] = {};
    for (const [name, list] of Object.entries(byTarget)) cells[key][name] = medianOf(list);
  }
  let profile = null;
  if (profDir) {
    const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
    if (file) profile = summarizeProfile(JSON.parse(readFileSync(path.join(profDir, file), "utf8")), 30);
    else log(`no .cpuprofile was written in ${profDir}`);
  }
  return {
    meta: { name: phase.name, why: phase.why, simFlags: simFlags(gw.engineArgv), gatewayPeakMb },
    cells,
    profile,
  };
}

async function main() {
  const opts = parseCli();
  const cores = os.cpus().length;
  const pinned = canPin(cores);
  const layout = pinned ? LAYOUTS[opts.layout] : null;
  if (layout) pinSelf(layout.loadgen);
  const procs = new ProcessSet();
  const tmp = mkdtempSync(path.join(os.tmpdir(), "llm-runner-bench-"));
  let cleaning = null;
  const cleanup = () => {
    cleaning ??= procs.stopAll().finally(() => {
      if (!opts.keepTmp) rmSync(tmp, { recursive: true, force: true });
    });
    return cleaning;
  };
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.once(sig, () => {
      log(`\n${sig}: stopping every process the bench started…`);
      cleanup().finally(() => process.exit(130));
    });
  }
  process.once("exit", () => procs.killAllNow());

  const startedAt = new Date();
  const loadStart = os.loadavg().map((v) => round(v, 2));
  log(
    `llm-runner bench (${opts.profileName}, ${opts.timing.rounds} round(s)) on ${cores} cores; ` +
      (layout
        ? `layout ${opts.layout} ${JSON.stringify(layout)}`
        : "taskset unavailable or 1 core: not pinned") +
      `; temp ${tmp}`,
  );
  try {
    const phases = {};
    const phasesMeta = [];
    const profiles = {};
    for (const phase of PHASES) {
      const out = await runPhase(phase, {
        procs,
        tmp,
        timing: opts.timing,
        cpuProf: opts.cpuProf,
        cores: layout,
      });
      phases[phase.name] = { sim: phase.sim, cells: out.cells, gatewayPeakMb: out.meta.gatewayPeakMb };
      phasesMeta.push(out.meta);
      if (out.profile) profiles[phase.name] = out.profile;
    }
    const ratios = ratioRows(phases);
    const targets = evaluateTargets(phases);
    let commit = null;
    try {
      commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO, encoding: "utf8" }).trim();
    } catch {
      // not a git checkout
    }
    const result = {
      meta: {
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        seconds: round((Date.now() - startedAt.getTime()) / 1000, 1),
        profile: opts.profileName,
        rounds: opts.timing.rounds,
        timing: opts.timing,
        cpuProfiled: opts.cpuProf,
        cpus: cores,
        cpuModel: os.cpus()[0]?.model ?? "unknown",
        node: process.version,
        commit,
        pinned,
        layout: layout ? { name: opts.layout, ...layout } : null,
        loadAverageStart: loadStart,
        loadAverageEnd: os.loadavg().map((v) => round(v, 2)),
        limits: LIMITS,
        tokens: { json: JSON_TOKENS, stream: STREAM_TOKENS },
        note:
          `Load average at start ${loadStart.join(" / ")}: on a small machine absolute numbers are noisy, ` +
          "so direct, floor and gateway were interleaved cell by cell, rotated " +
          "each round, and medians are reported." +
          (opts.cpuProf ? " The gateway ran under --cpu-prof, which inflates its CPU figures." : ""),
      },
      phases_meta: phasesMeta,
      targets,
      ratios,
      phases,
      ...(opts.cpuProf ? { cpuProfiles: profiles } : {}),
    };
    process.stdout.write(`\n${ratioTableText(ratios)}\n\n${targetsText(targets)}\n`);
    mkdirSync(RESULTS, { recursive: true });
    const base = opts.cpuProf ? "profile" : "latest";
    writeFileSync(path.join(RESULTS, `${base}.json`), `${JSON.stringify(result, null, 2)}\n`);
    let md = markdown(result);
    for (const [name, p] of Object.entries(profiles)) {
      md += `\n## Gateway CPU profile, ${name} phase (self time)\n\n${profileMarkdown(p)}\n`;
    }
    writeFileSync(path.join(RESULTS, `${base}.md`), md);
    log(`\nwrote bench/results/${base}.json and ${base}.md in ${result.meta.seconds} s`);
    await cleanup();
    if (opts.strict && targets.some((t) => !t.met)) process.exitCode = 1;
  } catch (err) {
    log(`bench failed: ${err.stack ?? err.message}`);
    opts.keepTmp = true;
    log(`logs kept in ${tmp}`);
    await cleanup();
    process.exitCode = 1;
  }
}

await main();
