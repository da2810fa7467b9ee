// `npm run bench:models`: several models in one swap group (awake 1) under alternating demand through the
// gateway, against stop-and-start (a cold load of the other model's engine) in the same run. Simulator engines
// (process driver), with the simulator's published sleep-mode timings (runtime/llm_runtime/sim/sleep.py: vLLM's
// sleep-mode blog, one A100, vLLM 0.11.0; an 8B model in bf16 at level 1: sleep 0.77 s, wake 1.13 s).
//
// Swap (per run): one runner with LLM_RUNNER_MODELS_FILE, `--models` models in group g (awake 1). `--phases`
// phases; in each, `--clients` closed-loop clients stream to one model for `--phase-seconds`, and the next phase
// asks for the next model (the clients switch together, while the previous phase's streams still run). Measured:
// every request's status and ending (failed must be 0), TTFT of each client's first request of a phase (it
// triggered the wake: the old model drains, sleeps, the new one wakes) vs the others (an awake model), and each
// wake as the runner timed it (llm_runner_model_last_wake_seconds).
// Stop-and-start (per run): `--switches` times, `llm-runner stop`, then `llm-runner start --detach` serving the
// other model alone (its engine loads in SIM_LOAD_SECONDS = `--cold-load-seconds`), then one stream: the
// switch time is from the stop to that stream's first token.
//
//   npm run bench:models                          # 3 runs, 2 models, results in bench/results/models.md
//   npm run bench:models -- --quick               # 1 run, fewer phases, a 5 s cold load
//   npm run bench:models -- --models 3 --cold-load-seconds 60
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { Agent, request } from "undici";
import { freePort, sleep } from "./lib/procs.mjs";
import { SseReader } from "./lib/sse-reader.mjs";
import { medianOf, round, summarize } from "./lib/stats.mjs";

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CLI = path.join(REPO, "dist/cli/main.js");
const OUT = path.join(REPO, "bench/results/models.md");

const { values: v } = parseArgs({
  options: {
    quick: { type: "boolean" },
    runs: { type: "string" },
    models: { type: "string", default: "2" },
    clients: { type: "string", default: "8" },
    phases: { type: "string" },
    "phase-seconds": { type: "string", default: "4" },
    switches: { type: "string" },
    "cold-load-seconds": { type: "string" },
    tokens: { type: "string", default: "32" },
    "no-write": { type: "boolean" },
  },
  strict: true,
});
const num = (name, raw, min, max) => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    process.stderr.write(`--${name} must be a number from ${min} to ${max} (got "${raw}").\n`);
    process.exit(2);
  }
  return n;
};
const cfg = {
  runs: num("runs", v.runs ?? (v.quick ? "1" : "3"), 1, 20),
  models: num("models", v.models, 2, 3),
  clients: num("clients", v.clients, 1, 200),
  phases: num("phases", v.phases ?? (v.quick ? "4" : "9"), 2, 100),
  phaseMs: num("phase-seconds", v["phase-seconds"], 0.5, 120) * 1000,
  switches: num("switches", v.switches ?? (v.quick ? "1" : "2"), 1, 20),
  coldLoadS: num("cold-load-seconds", v["cold-load-seconds"] ?? (v.quick ? "5" : "30"), 0, 600),
  tokens: num("tokens", v.tokens, 1, 1000),
};
const IDS = ["model-a", "model-b", "model-c"].slice(0, cfg.models);
// The sim's decode step: 32 tokens take ~0.35 s; every other timing (prefill, sleep, wake) is the simulator's default.
const SIM = { SIM_ITL_MS: "10", MAX_MODEL_LEN: "4096", MAX_NUM_BATCHED_TOKENS: "4096", MAX_NUM_SEQS: "64" };
const agent = new Agent({ connections: 512, pipelining: 1 });

function envFor(home, port, token, extra) {
  return {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? os.homedir(),
    LLM_RUNNER_HOME: home,
    ENGINE: "sim",
    DRIVER: "process",
    HOST: "127.0.0.1",
    PORT: String(port),
    ENGINE_PORT: "0",
    AUTH_TOKEN: token,
    ...SIM,
    ...extra,
  };
}

async function cli(args, env, timeoutMs = 180_000) {
  try {
    return await run(process.execPath, [CLI, ...args], { env, timeout: timeoutMs });
  } catch (err) {
    throw new Error(
      `llm-runner ${args.join(" ")} failed: ${err.message}\n${err.stdout ?? ""}${err.stderr ?? ""}`,
    );
  }
}

async function modelsOf(home) {
  try {
    return JSON.parse(readFileSync(path.join(home, "status.json"), "utf8")).models ?? [];
  } catch {
    return [];
  }
}

/** One stream to `model`; resolves { ok, ttftMs, error }. */
async function stream(origin, token, model) {
  const body = JSON.stringify({
    model,
    messages: [{ role: "user", content: Array.from({ length: cfg.tokens }, (_, i) => `w${i}`).join(" ") }],
    max_tokens: cfg.tokens,
    ignore_eos: true,
    stream: true,
  });
  const startedAt = performance.now();
  const reader = new SseReader(startedAt);
  try {
    const res = await request(`${origin}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body,
      dispatcher: agent,
      signal: AbortSignal.timeout(120_000),
    });
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      return { ok: false, ttftMs: null, error: `HTTP ${res.statusCode}: ${text.slice(0, 200)}` };
    }
    for await (const chunk of res.body) reader.push(chunk.toString(), performance.now());
  } catch (err) {
    return { ok: false, ttftMs: reader.ttft(), error: String(err) };
  }
  const error = reader.error ?? (reader.done ? null : "no [DONE]");
  const short = reader.contentEvents !== cfg.tokens ? `${reader.contentEvents}/${cfg.tokens} tokens` : null;
  return { ok: error === null && short === null, ttftMs: reader.ttft(), error: error ?? short };
}

async function swapRun() {
  const home = mkdtempSync(path.join(os.tmpdir(), "llmr-bench-models-"));
  const port = await freePort();
  const token = randomBytes(16).toString("hex");
  const file = path.join(home, "models.json");
  writeFileSync(
    file,
    JSON.stringify({
      groups: { g: { gpus: "0", awake: 1, sleep_level: 1 } },
      models: IDS.map((id) => ({ id, group: "g", env: { GPU_MEMORY_UTILIZATION: "0.45" } })),
    }),
  );
  const env = envFor(home, port, token, { LLM_RUNNER_MODELS_FILE: file, MODEL_IDLE_SLEEP: "0" });
  const origin = `http://127.0.0.1:${port}`;
  const out = { switchTtft: [], awakeTtft: [], wakeMs: [], sleepMs: [], requests: 0, failed: 0, errors: [] };
  try {
    await cli(["start", "--detach"], env);
    // Every model's engine loaded (the others asleep) before the demand starts.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const states = (await modelsOf(home)).map((m) => m.state);
      if (
        states.length === IDS.length &&
        states.filter((s) => s === "awake").length === 1 &&
        states.every((s) => s === "awake" || s === "asleep")
      )
        break;
      if (Date.now() > deadline) throw new Error(`the models did not load: ${JSON.stringify(states)}`);
      await sleep(200);
    }
    let previous = [];
    for (let p = 0; p < cfg.phases; p++) {
      const model = IDS[p % IDS.length];
      const phaseEnd = performance.now() + cfg.phaseMs;
      const clients = Array.from({ length: cfg.clients }, async () => {
        for (let i = 0; performance.now() < phaseEnd || i === 0; i++) {
          const r = await stream(origin, token, model);
          out.requests++;
          if (!r.ok) {
            out.failed++;
            if (out.errors.length < 5) out.errors.push(r.error);
          } else if (p > 0 && i === 0) out.switchTtft.push(r.ttftMs);
          else if (i > 0) out.awakeTtft.push(r.ttftMs);
        }
      });
      // The previous phase's clients end their last streams while this phase's ask for the next model.
      await Promise.all(previous);
      previous = clients;
      await sleep(cfg.phaseMs);
    }
    await Promise.all(previous);
    // Each wake as the runner timed it (its log: "model X awake", ms).
    for (const line of readFileSync(path.join(home, "runner.log"), "utf8").split("\n")) {
      if (!line.includes('"msg":"model ')) continue;
      if (line.includes(' awake"')) out.wakeMs.push(JSON.parse(line).ms);
      else if (line.includes(" asleep (level")) out.sleepMs.push(JSON.parse(line).ms);
    }
    if (out.wakeMs.length !== cfg.phases - 1)
      throw new Error(`${out.wakeMs.length} wakes for ${cfg.phases - 1} switches: see ${home}/runner.log`);
  } finally {
    await cli(["stop", "--force", "--timeout", "20"], env).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
  return out;
}

async function coldRun() {
  const home = mkdtempSync(path.join(os.tmpdir(), "llmr-bench-models-cold-"));
  const port = await freePort();
  const token = randomBytes(16).toString("hex");
  const origin = `http://127.0.0.1:${port}`;
  const envOf = (model) =>
    envFor(home, port, token, { MODEL_ID: model, SIM_LOAD_SECONDS: String(cfg.coldLoadS) });
  const out = { switchMs: [], loadMs: [], firstTtft: [], requests: 0, failed: 0, errors: [] };
  try {
    await cli(["start", "--detach"], envOf(IDS[0]));
    for (let s = 0; s < cfg.switches; s++) {
      const from = IDS[s % IDS.length];
      const to = IDS[(s + 1) % IDS.length];
      const t0 = performance.now();
      await cli(["stop", "--timeout", "20"], envOf(from));
      await cli(["start", "--detach"], envOf(to), (cfg.coldLoadS + 120) * 1000);
      const sent = performance.now();
      const r = await stream(origin, token, to);
      out.requests++;
      if (!r.ok) {
        out.failed++;
        out.errors.push(r.error);
        continue;
      }
      out.switchMs.push(sent - t0 + r.ttftMs);
      out.firstTtft.push(r.ttftMs);
      const status = JSON.parse(readFileSync(path.join(home, "status.json"), "utf8")).snapshot;
      out.loadMs.push(Date.parse(status.readySince) - Date.parse(status.startedAt));
    }
  } finally {
    await cli(["stop", "--force", "--timeout", "20"], envOf(IDS[0])).catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
  return out;
}

const swaps = [];
const colds = [];
for (let r = 0; r < cfg.runs; r++) {
  const swap = await swapRun();
  const cold = await coldRun();
  swaps.push(swap);
  colds.push(cold);
  const s = summarize(swap.wakeMs);
  process.stderr.write(
    `run ${r + 1}/${cfg.runs}: ${swap.requests} requests, ${swap.failed} failed; wake p50 ${round(s.p50, 0)} ms p99 ${round(s.p99, 0)} ms; ` +
      `switch TTFT p50 ${round(summarize(swap.switchTtft).p50, 0)} ms vs awake ${round(summarize(swap.awakeTtft).p50, 0)} ms; ` +
      `stop-and-start ${cold.switchMs.map((x) => round(x / 1000, 2)).join(", ")} s (${cold.failed} failed)\n`,
  );
  for (const e of [...swap.errors, ...cold.errors]) process.stderr.write(`  error: ${e}\n`);
}

const per = (xs, f) => xs.map(f).filter((x) => x !== null);
const med = (xs) => round(medianOf(xs), 0);
const rows = {
  wakeP50: med(per(swaps, (s) => summarize(s.wakeMs).p50)),
  wakeP99: med(per(swaps, (s) => summarize(s.wakeMs).p99)),
  sleepP50: med(per(swaps, (s) => summarize(s.sleepMs).p50)),
  sleepP99: med(per(swaps, (s) => summarize(s.sleepMs).p99)),
  switchTtftP50: med(per(swaps, (s) => summarize(s.switchTtft).p50)),
  switchTtftP99: med(per(swaps, (s) => summarize(s.switchTtft).p99)),
  awakeTtftP50: med(per(swaps, (s) => summarize(s.awakeTtft).p50)),
  awakeTtftP99: med(per(swaps, (s) => summarize(s.awakeTtft).p99)),
  coldSwitchP50: med(per(colds, (c) => summarize(c.switchMs).p50)),
  coldLoadP50: med(per(colds, (c) => summarize(c.loadMs).p50)),
  coldFirstTtftP50: med(per(colds, (c) => summarize(c.firstTtft).p50)),
};
const requests = swaps.reduce((n, s) => n + s.requests, 0);
const failed = swaps.reduce((n, s) => n + s.failed, 0);
const coldFailed = colds.reduce((n, c) => n + c.failed, 0);
const wakes = swaps.reduce((n, s) => n + s.wakeMs.length, 0);
const command = `npm run bench:models --${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(" ")}` : ""}`;
const md = `# bench:models — swapping models with vLLM's sleep mode vs stopping and starting

Command: \`${command.replace(/ --$/, "")}\` (${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? "?"}).

${cfg.models} models in one swap group (\`awake: 1\`, sleep level 1) behind one gateway, simulator engines (process
driver). ${cfg.runs} run(s); each: ${cfg.phases} phases of ${cfg.phaseMs / 1000} s, ${cfg.clients} closed-loop clients streaming ${cfg.tokens} tokens
(SIM_ITL_MS 10) to one model per phase, the next phase asking for the next model while the last streams of the
previous one still run; then ${cfg.switches} stop-and-start switch(es): \`llm-runner stop\`, \`llm-runner start --detach\`
serving the other model alone with a cold load of ${cfg.coldLoadS} s (SIM_LOAD_SECONDS), one stream. Figures are medians over
the runs of each run's percentile.

| | p50 | p99 |
|---|---:|---:|
| wake (the runner's \`/wake_up\`, its log's "model … awake" time), ms | ${rows.wakeP50} | ${rows.wakeP99} |
| sleep of the model making room (its log's "model … asleep" time), ms | ${rows.sleepP50} | ${rows.sleepP99} |
| TTFT of a request that triggered a wake (drain, sleep of the other, wake), ms | ${rows.switchTtftP50} | ${rows.switchTtftP99} |
| TTFT of a request to an awake model, ms | ${rows.awakeTtftP50} | ${rows.awakeTtftP99} |
| **added TTFT of a wake**, ms | **${rows.switchTtftP50 - rows.awakeTtftP50}** | ${rows.switchTtftP99 - rows.awakeTtftP99} |
| stop-and-start: stop → first token of the other model, ms | ${rows.coldSwitchP50} | |
| … of which the engine's cold load (status startedAt → readySince), ms | ${rows.coldLoadP50} | |

Requests through the swaps: ${requests}, **failed: ${failed}** (${wakes} wakes); stop-and-start requests failed: ${coldFailed}.
A switch by sleep mode costs ${round(rows.switchTtftP50 / 1000, 2)} s of first-token time against ${round(rows.coldSwitchP50 / 1000, 2)} s for stop-and-start
(${round(rows.coldSwitchP50 / Math.max(1, rows.switchTtftP50), 1)}×), and stop-and-start also refuses every request for the stopped runner while it runs.

**Caveat: these are the simulator's timings, not a GPU's.** The sleep and wake times are the simulator's defaults:
vLLM's published figures for the model's weight size (runtime/llm_runtime/sim/sleep.py, \`_POINTS\`: vLLM's blog
"Zero-Reload Model Switching with vLLM Sleep Mode", 2025-10-26, one A100, vLLM 0.11.0; an 8B model in bf16 at level 1
sleeps in 0.77 s and wakes in 1.13 s; no published run is of an 8B model on an H100, whose faster host link would wake
sooner). The cold load is a setting (${cfg.coldLoadS} s here; the blog puts a reload at "30-100+ seconds per switch"), so the
stop-and-start row is that setting plus what the runner adds (stop, start, first token). What this bench measures of
the runner itself: that no request fails across swaps, and what it adds around the engine's sleep and wake (the drain
of the other model's streams, the lock, the queue) — the switch TTFT less the sleep and the wake rows (the boot's sleeps are in the sleep row too).
`;
process.stdout.write(`\n${md}`);
if (!v["no-write"]) {
  writeFileSync(OUT, md);
  process.stderr.write(`written to ${path.relative(REPO, OUT)}\n`);
}
await agent.close();
if (failed > 0) process.exit(1);
