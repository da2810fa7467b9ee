// `npm run bench:llm`: the Livepeer route against /v1 through ONE gateway, with the engine doing the same work.
// /llm asks vLLM for continuous usage stats (its frames carry cumulative usage on every chunk); `npm run bench`
// compares it with a /v1 that does not, so part of that gap is the engine's. This runs three targets side by
// side, alternating, 100 streams at ITL 0: /v1, /v1 with continuous_usage_stats, /llm; medians of --rounds.
//
//   npm run bench:llm                 # 5 rounds
//   npm run bench:llm -- --rounds 3
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runCell } from "./lib/load.mjs";
import { canPin, cpuSeconds, ProcessSet, pinSelf, sleep } from "./lib/procs.mjs";
import { LAYOUTS, LIMITS, llmBody, STREAM_TOKENS } from "./lib/scenario.mjs";
import { startGateway } from "./lib/servers.mjs";
import { median, round } from "./lib/stats.mjs";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const PROMPT = Array.from({ length: 80 }, (_, i) => `word${i % 17}`).join(" ");

const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" } }, strict: true });
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) {
  process.stderr.write(`--rounds must be a whole number from 1 to 20 (got "${values.rounds}").\n`);
  process.exit(2);
}
const layout = canPin(os.cpus().length) ? LAYOUTS.split : null;
if (layout) pinSelf(layout.loadgen);
const procs = new ProcessSet();
process.once("exit", () => procs.killAllNow());
const tmp = mkdtempSync(path.join(os.tmpdir(), "llm-runner-bench-llm-"));
try {
  const gw = await startGateway(procs, {
    repo: REPO,
    home: tmp,
    sim: { itlMs: 0, ttftMs: 0 },
    limits: LIMITS,
    cores: layout,
  });
  const model = gw.engineArgv[gw.engineArgv.indexOf("--served-model-name") + 1];
  const v1 = (continuous) => (stream) =>
    JSON.stringify({
      model,
      messages: [{ role: "user", content: PROMPT }],
      max_tokens: STREAM_TOKENS,
      ignore_eos: true,
      stream,
      stream_options: { include_usage: true, ...(continuous ? { continuous_usage_stats: true } : {}) },
    });
  const targets = [
    { name: "/v1", path: "/v1/chat/completions", body: v1(false) },
    { name: "/v1 + continuous usage", path: "/v1/chat/completions", body: v1(true) },
    { name: "/llm", path: "/llm", body: llmBody(STREAM_TOKENS) },
  ];
  const results = {};
  for (let r = 0; r < rounds; r++) {
    for (const t of r % 2 ? [...targets].reverse() : targets) {
      const cpu0 = cpuSeconds(gw.pid);
      const res = await runCell({
        target: {
          origin: gw.origin,
          path: t.path,
          headers: { authorization: `Bearer ${gw.token}` },
          body: t.body,
        },
        stream: true,
        concurrency: 100,
        warmupMs: 800,
        durationMs: 2_000,
        drainMs: 20_000,
        expectedTokens: STREAM_TOKENS,
      });
      const usPerEvent = ((cpuSeconds(gw.pid) - cpu0) * 1e6) / res.events;
      results[t.name] ??= [];
      results[t.name].push({ eventsPerSec: res.eventsPerSec, usPerEvent, errors: res.errors });
      process.stderr.write(
        `[${r + 1}/${rounds}] ${t.name}: ${Math.round(res.eventsPerSec)} ev/s, ${round(usPerEvent, 1)} µs/event\n`,
      );
      await sleep(200);
    }
  }
  const med = (name, key) => median(results[name].map((x) => x[key]));
  const lines = [
    "# /llm against /v1 with the same engine work (`npm run bench:llm`)",
    "",
    `Run ${new Date().toISOString()} · ${rounds} rounds, medians · 100 streams, ITL 0, ${STREAM_TOKENS} tokens · Node ${process.version} · layout ${layout ? "split (load generator and engine on core 0, gateway on core 1)" : "unpinned"}.`,
    "",
    "| target | events/s | gateway CPU µs/event | /llm ÷ this (events/s) | /llm ÷ this (CPU/event) | errors |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const t of targets) {
    lines.push(
      `| ${t.name} | ${Math.round(med(t.name, "eventsPerSec"))} | ${round(med(t.name, "usPerEvent"), 1)} | ${round(med("/llm", "eventsPerSec") / med(t.name, "eventsPerSec"), 2)} | ${round(med("/llm", "usPerEvent") / med(t.name, "usPerEvent"), 2)} | ${results[t.name].reduce((s, x) => s + x.errors, 0)} |`,
    );
  }
  const md = `${lines.join("\n")}\n`;
  process.stdout.write(md);
  mkdirSync(path.join(REPO, "bench/results"), { recursive: true });
  writeFileSync(path.join(REPO, "bench/results/llm-vs-v1.md"), md);
} finally {
  await procs.stopAll();
  rmSync(tmp, { recursive: true, force: true });
}
