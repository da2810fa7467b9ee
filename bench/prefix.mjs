// `npm run bench:prefix`: the replica router's policies side by side, in one run, through the built CLI with
// REPLICAS=4 simulator engines whose prefix cache and prefill time are modelled (runtime/README.md, "Prefix cache").
//
// Workload A, multi-tenant (llm-d's prefix benchmark scaled down): 16 tenants, each with a 2,048-token system
// prompt and 4 users, each user with a 512-token history (one earlier exchange); a request is one user's history
// and a new 256-token question, answered with 64 tokens. Poisson arrivals, a QPS ladder, each step open-loop.
// Workload B: the same sizes with random prompts (nothing shared). For each policy (round-robin,
// least-in-flight, prefix): TTFT p50/p90, output tokens/s, the engines' prefix-cache hit rate (their
// vllm:prefix_cache_*_total), and the hit rate an ideal router would get (every tenant on one warm replica with an
// unbounded cache); and the router's own cost per request (bench/lib/router-cost.mjs).
//
//   npm run bench:prefix                 # full run (~15 minutes): writes bench/results/prefix.md and prefix.json
//   npm run bench:prefix -- --quick      # three steps of 10 s per workload, for a smoke check
//   npm run bench:prefix -- --strict     # exit 1 when a target is missed
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Pool, request } from "undici";
import { cpuSeconds, freePort, ProcessSet, sleep, waitFor } from "./lib/procs.mjs";
import { SseReader } from "./lib/sse-reader.mjs";
import { percentile, round } from "./lib/stats.mjs";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct";
const POLICIES = ["round-robin", "least-in-flight", "prefix"];
const REPLICAS = 4;
// The simulated engines (README of this folder, "Prefix routing"): an engine's prefill of 16,000 tokens/s and a
// step of 20 ms, with a KV cache of 24,000 tokens: a quarter of the tenants' prefixes fit on one replica, not all.
const SIM = { itlMs: 20, prefillTps: 16_000, kvTokens: 24_000 };
const LIMITS = { maxNumSeqs: 16, maxModelLen: 4096, maxNumBatchedTokens: 4096, queueSize: 4096 };
const SHAPE = { tenants: 16, users: 4, system: 2048, history: 256, question: 256, answer: 64 };
const BLOCK = 16;

const { values: v } = parseArgs({
  options: {
    quick: { type: "boolean" },
    strict: { type: "boolean" },
    seed: { type: "string", default: "1" },
    ladder: { type: "string" },
    policies: { type: "string", default: POLICIES.join(",") },
  },
  strict: true,
});
const LADDER_A = v.ladder
  ? v.ladder.split(",").map(Number)
  : v.quick
    ? [4, 12, 20]
    : [4, 8, 12, 16, 20, 24, 28];
const RUN = v.policies.split(",").filter((p) => POLICIES.includes(p));
const LADDER_B = v.quick ? [4, 12] : [4, 8, 12];
const STEP_MS = v.quick ? 10_000 : 20_000;
const WARMUP = { qps: 4, ms: v.quick ? 8_000 : 15_000 };
// A step's first seconds, left out of its output tokens/s: the first answers are still being prefilled.
const RAMP_MS = 2_000;

/** A seeded generator (mulberry32), so every policy gets the same requests at the same times. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Words the simulator's tokenizer reads as one token each (a word, no punctuation). */
function words(rand, n) {
  return Array.from({ length: n }, () => Math.floor(rand() * 36 ** 4).toString(36));
}

// The simulator's chat template (runtime/llm_runtime/sim/tokenizer.py chat_prompt): 3 tokens before each message's
// text, 1 after, 3 opening the reply. The prompt's tokens, for the ideal hit rate.
function promptTokens(messages) {
  const out = [];
  for (const m of messages) out.push("<h>", m.role, "</h>", ...m.words, "<eot>");
  out.push("<h>", "assistant", "</h>");
  return out;
}

function workloadA(seed) {
  const rand = rng(seed);
  const tenants = Array.from({ length: SHAPE.tenants }, () => ({
    system: words(rand, SHAPE.system),
    users: Array.from({ length: SHAPE.users }, () => ({
      asked: words(rand, SHAPE.history),
      answered: words(rand, SHAPE.history),
    })),
  }));
  return () => {
    const t = Math.floor(rand() * SHAPE.tenants);
    const u = Math.floor(rand() * SHAPE.users);
    const tenant = tenants[t];
    const user = tenant.users[u];
    const messages = [
      { role: "system", words: tenant.system },
      { role: "user", words: user.asked },
      { role: "assistant", words: user.answered },
      { role: "user", words: words(rand, SHAPE.question) },
    ];
    return { group: t, messages };
  };
}

function workloadB(seed) {
  const rand = rng(seed + 1000);
  const n = SHAPE.system + 2 * SHAPE.history + SHAPE.question + 3 * 4; // A's prompt length
  return () => ({ group: -1, messages: [{ role: "user", words: words(rand, n) }] });
}

/** The ideal prefix cache: one per tenant, unbounded; a hit is whole blocks, never the last prompt token (vLLM). */
class IdealCache {
  constructor() {
    this.seen = new Map(); // group → prompts sent
  }
  cached(group, tokens) {
    if (group < 0) return 0;
    const earlier = this.seen.get(group) ?? [];
    let best = 0;
    for (const other of earlier) {
      let n = 0;
      const max = Math.min(other.length, tokens.length);
      while (n < max && other[n] === tokens[n]) n++;
      best = Math.max(best, n);
    }
    if (earlier.length < 64) earlier.push(tokens);
    this.seen.set(group, earlier);
    return Math.min(Math.floor(best / BLOCK), Math.floor((tokens.length - 1) / BLOCK)) * BLOCK;
  }
}

function bodyOf(req) {
  return JSON.stringify({
    model: MODEL,
    messages: req.messages.map((m) => ({ role: m.role, content: m.words.join(" ") })),
    max_tokens: SHAPE.answer,
    ignore_eos: true,
    stream: true,
    stream_options: { include_usage: true },
  });
}

async function startGateway(procs, home, policy) {
  const port = await freePort();
  const token = randomBytes(24).toString("hex");
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? os.homedir(),
    AUTH_TOKEN: token,
    LLM_RUNNER_HOME: home,
    LOG_LEVEL: "warn",
    ROUTER: policy,
    REPLICAS: String(REPLICAS),
    SIM_ITL_MS: String(SIM.itlMs),
    SIM_TTFT_MS: "0",
    SIM_PREFILL_TPS: String(SIM.prefillTps),
    SIM_KV_TOKENS: String(SIM.kvTokens),
    MAX_NUM_SEQS: String(LIMITS.maxNumSeqs),
    MAX_MODEL_LEN: String(LIMITS.maxModelLen),
    MAX_NUM_BATCHED_TOKENS: String(LIMITS.maxNumBatchedTokens),
    QUEUE_SIZE: String(LIMITS.queueSize),
    ENGINE_CANARY_INTERVAL: "0",
  };
  const args = [path.join(REPO, "dist/cli/main.js"), "start", "--engine", "sim", "--driver", "process"];
  args.push("--host", "127.0.0.1", "--port", String(port), "--engine-port", "0");
  const child = procs.spawn("gateway", process.execPath, args, {
    env,
    cwd: REPO,
    stdio: openSync(path.join(home, "gateway.log"), "a"),
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`the gateway exited; see ${home}/gateway.log`);
      const res = await request(`${origin}/ready`).catch(() => null);
      if (!res) return false;
      await res.body.text();
      const status = spawnSync(process.execPath, [path.join(REPO, "dist/cli/main.js"), "status", "--json"], {
        env,
        encoding: "utf8",
      });
      const s = JSON.parse(status.stdout || "{}");
      const states = (s.replicas ?? []).map((r) => r.state);
      if (res.statusCode !== 200 || states.length !== REPLICAS || !states.every((st) => st === "ready"))
        return false;
      for (const id of String(s.engineId).split(",")) if (/^\d+$/.test(id)) procs.adopt(Number(id), "engine");
      return true;
    },
    90_000,
    `${REPLICAS} replicas ready at ${origin}`,
  );
  return { pid: child.pid, origin, token };
}

/** The engines' prefix-cache counters (summed over replicas) and the router's decisions, from /metrics. */
async function scrape(gw) {
  const res = await request(`${gw.origin}/metrics`);
  const text = await res.body.text();
  const sum = (name, filter = () => true) => {
    let total = 0;
    const re = new RegExp(`^${name.replace(/:/g, "\\:")}\\{([^}]*)\\} (\\S+)$`, "gm");
    for (const m of text.matchAll(re)) if (filter(m[1])) total += Number(m[2]);
    return total;
  };
  const decisions = {};
  for (const m of text.matchAll(/^llm_runner_route_decisions_total\{[^}]*reason="(\w+)"[^}]*\} (\S+)$/gm))
    decisions[m[1]] = (decisions[m[1]] ?? 0) + Number(m[2]);
  return {
    hits: sum("vllm:prefix_cache_hits_total"),
    queries: sum("vllm:prefix_cache_queries_total"),
    decisions,
  };
}

/** Open-loop Poisson arrivals at `qps` for `ms`; waits for every request to end (at most 120 s more). */
async function runStep(gw, pool, next, ideal, qps, ms, rand) {
  const before = await scrape(gw);
  const cpu0 = cpuSeconds(gw.pid);
  const results = [];
  const t0 = performance.now();
  let at = 0;
  const pending = [];
  let idealCached = 0;
  let promptTotal = 0;
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one listener per request in flight
  for (;;) {
    at += (-Math.log(1 - rand()) / qps) * 1000;
    if (at >= ms) break;
    const req = next();
    const tokens = promptTokens(req.messages);
    idealCached += ideal.cached(req.group, tokens);
    promptTotal += tokens.length;
    const body = bodyOf(req);
    const wait = t0 + at - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(send(gw, pool, body, abort.signal).then((r) => results.push(r)));
  }
  const cap = setTimeout(() => abort.abort(), 120_000);
  await Promise.all(pending);
  clearTimeout(cap);
  const wallS = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(gw.pid) - cpu0;
  await sleep(2_200); // /metrics keeps the engines' series for 2 s
  const after = await scrape(gw);
  const ok = results.filter((r) => r.error === null);
  const ttfts = ok.map((r) => r.ttftMs).filter((x) => x !== null);
  // Tokens received in the step's steady part (its first RAMP_MS left out: nothing streams yet), per second.
  const from = t0 + RAMP_MS;
  const until = t0 + ms;
  let tokens = 0;
  for (const r of ok) for (const at of r.times) if (at >= from && at < until) tokens++;
  const decisions = {};
  for (const [k, n] of Object.entries(after.decisions)) decisions[k] = n - (before.decisions[k] ?? 0);
  return {
    qps,
    sent: results.length,
    errors: results.length - ok.length,
    errorSample: results.find((r) => r.error !== null)?.error ?? null,
    ttftP50: round(percentile(ttfts, 50), 0),
    ttftP90: round(percentile(ttfts, 90), 0),
    outTps: round(tokens / ((until - from) / 1000), 0),
    offeredTps: round((results.length * SHAPE.answer) / (ms / 1000), 0),
    drainS: round(wallS - ms / 1000, 1),
    hitRate: round((after.hits - before.hits) / Math.max(1, after.queries - before.queries), 3),
    idealHitRate: round(idealCached / Math.max(1, promptTotal), 3),
    gatewayCpuMsPerRequest: round((cpu * 1000) / Math.max(1, results.length), 2),
    decisions,
  };
}

async function send(gw, pool, body, signal) {
  const startedAt = performance.now();
  const reader = new SseReader(startedAt);
  try {
    const res = await pool.request({
      method: "POST",
      path: "/v1/chat/completions",
      headers: { "content-type": "application/json", authorization: `Bearer ${gw.token}` },
      body,
      signal,
    });
    res.body.setEncoding("utf8");
    if (res.statusCode !== 200) {
      return {
        error: `HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 120)}`,
        ttftMs: null,
        times: [],
      };
    }
    for await (const piece of res.body) reader.push(piece, performance.now());
  } catch (err) {
    return { error: err.message, ttftMs: null, times: [] };
  }
  if (reader.error !== null || !reader.done)
    return { error: reader.error ?? "no [DONE]", ttftMs: null, times: [] };
  return { error: null, ttftMs: reader.ttft(), times: reader.contentTimes };
}

async function runPolicy(policy) {
  const home = mkdtempSync(path.join(os.tmpdir(), "llmr-bench-prefix-"));
  const procs = new ProcessSet();
  const out = { policy, a: [], b: [] };
  try {
    const gw = await startGateway(procs, home, policy);
    const pool = new Pool(gw.origin, { connections: 1024, headersTimeout: 0, bodyTimeout: 0 });
    const seed = Number(v.seed);
    const rand = rng(seed * 7919);
    const ideal = new IdealCache();
    const nextA = workloadA(seed);
    process.stderr.write(`${policy}: warm-up, ${WARMUP.qps} QPS for ${WARMUP.ms / 1000} s\n`);
    out.warmup = await runStep(gw, pool, nextA, ideal, WARMUP.qps, WARMUP.ms, rand);
    for (const qps of LADDER_A) {
      const step = await runStep(gw, pool, nextA, ideal, qps, STEP_MS, rand);
      out.a.push(step);
      process.stderr.write(`${policy} A ${qps} QPS: ${JSON.stringify(step)}\n`);
    }
    const nextB = workloadB(seed);
    for (const qps of LADDER_B) {
      const step = await runStep(gw, pool, nextB, new IdealCache(), qps, STEP_MS, rand);
      out.b.push(step);
      process.stderr.write(`${policy} B ${qps} QPS: ${JSON.stringify(step)}\n`);
    }
    await pool.destroy();
  } finally {
    await procs.stopAll();
    rmSync(home, { recursive: true, force: true });
  }
  return out;
}

function routerCost() {
  const r = spawnSync(process.execPath, ["--expose-gc", path.join(REPO, "bench/lib/router-cost.mjs")], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`router-cost.mjs failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// --- the run ----------------------------------------------------------------------------------------------------

const started = new Date();
const load0 = os.loadavg()[0];
const cost = routerCost();
process.stderr.write(`router cost: ${JSON.stringify(cost)}\n`);
const runs = [];
for (const policy of RUN) runs.push(await runPolicy(policy));
if (RUN.length < POLICIES.length) {
  process.stdout.write(`${JSON.stringify(runs.map((r) => ({ policy: r.policy, a: r.a })))}\n`);
  process.exit(0);
}
const load1 = os.loadavg()[0];
const by = (p) => runs.find((r) => r.policy === p);
const lif = by("least-in-flight");
const pre = by("prefix");

// Keeping up: output tokens/s at least 90 % of the offered. The knee: the highest step at which prefix keeps up
// (the load the better policy can take); least-in-flight's own knee is reported beside it.
const keepsUp = (s) => s.outTps >= 0.9 * s.offeredTps;
const lastUp = (steps) => {
  const i = steps.findIndex((s) => !keepsUp(s));
  return i < 0 ? steps.length - 1 : Math.max(0, i - 1);
};
const kneeAt = lastUp(pre.a);
const knee = { qps: LADDER_A[kneeAt], lif: lif.a[kneeAt], prefix: pre.a[kneeAt] };
const lifKnee = LADDER_A[lastUp(lif.a)];
const within = (x, ref, tol) => Math.abs(x - ref) <= tol * Math.max(Math.abs(ref), 1e-9);
const bFigures = ["ttftP50", "ttftP90", "outTps"];
const targets = [
  {
    name: `A at the knee (${knee.qps} QPS): prefix P90 TTFT ≤ ⅓ of least-in-flight`,
    value: `${knee.prefix.ttftP90} ms vs ${knee.lif.ttftP90} ms (${round(knee.prefix.ttftP90 / knee.lif.ttftP90, 3)}×)`,
    met: knee.prefix.ttftP90 <= knee.lif.ttftP90 / 3,
  },
  {
    name: `A at the knee: prefix output tokens/s ≥ 1.2 × least-in-flight`,
    value: `${knee.prefix.outTps} vs ${knee.lif.outTps} (${round(knee.prefix.outTps / knee.lif.outTps, 3)}×)`,
    met: knee.prefix.outTps >= 1.2 * knee.lif.outTps,
  },
  {
    name: `A at the knee: prefix hit rate ≥ 80 % of the ideal`,
    value: `${knee.prefix.hitRate} vs ideal ${knee.prefix.idealHitRate} (${round(knee.prefix.hitRate / knee.prefix.idealHitRate, 3)})`,
    met: knee.prefix.hitRate >= 0.8 * knee.prefix.idealHitRate,
  },
  ...LADDER_B.map((qps, i) => {
    const p = pre.b[i];
    const l = lif.b[i];
    const off = bFigures.filter((f) => !within(p[f], l[f], 0.05));
    return {
      name: `B at ${qps} QPS: prefix within 5 % of least-in-flight (TTFT p50, p90, tokens/s)`,
      value: bFigures.map((f) => `${f} ${p[f]} vs ${l[f]}`).join("; "),
      met: off.length === 0,
    };
  }),
  {
    name: "router cost for a 4,096-token prompt < 50 µs",
    value: `${round(cost.totalUs, 1)} µs (hash ${round(cost.hashUs, 1)}, pick ${round(cost.pickUs, 1)})`,
    met: cost.totalUs < 50,
  },
];

const table = (workload, ladder) => {
  const rows = [
    "| QPS | policy | TTFT p50 ms | TTFT p90 ms | output tok/s (offered) | engines' hit rate (ideal) | errors | gateway CPU ms/req | decisions |",
    "|---:|---|---:|---:|---:|---:|---:|---:|---|",
  ];
  ladder.forEach((qps, i) => {
    for (const run of runs) {
      const s = run[workload][i];
      const d = Object.entries(s.decisions)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ");
      rows.push(
        `| ${qps} | ${run.policy} | ${s.ttftP50} | ${s.ttftP90} | ${s.outTps} (${s.offeredTps}) | ${s.hitRate} (${s.idealHitRate}) | ${s.errors} | ${s.gatewayCpuMsPerRequest} | ${d} |`,
      );
    }
  });
  return rows.join("\n");
};

const md = `# Prefix-aware routing: \`npm run bench:prefix\`

Run ${started.toISOString()}, ${v.quick ? "--quick" : "full"}; ${os.cpus().length} cores${
  os.cpus().length <= 2 ? " shared with other work (load average " : " (load average "
}${round(load0, 2)} at the start, ${round(load1, 2)} at the end). ${REPLICAS} simulator replicas through the built CLI;
sim: ITL ${SIM.itlMs} ms a step, prefill ${SIM.prefillTps} tokens/s, KV cache ${SIM.kvTokens} tokens per replica;
MAX_NUM_SEQS ${LIMITS.maxNumSeqs}, MAX_NUM_BATCHED_TOKENS ${LIMITS.maxNumBatchedTokens}. Steps of ${STEP_MS / 1000} s,
Poisson arrivals, every request waited for; output tok/s = tokens received from 2 s into the step to its end, per second. Hit rates are the
engines' own (vllm:prefix_cache_hits_total / queries_total over the step); the ideal puts every tenant on one warm
replica with an unbounded cache.

## Workload A: ${SHAPE.tenants} tenants × ${SHAPE.users} users, ${SHAPE.system}-token system prompts, ${2 * SHAPE.history}-token histories, ${SHAPE.question}-token questions, ${SHAPE.answer}-token answers

${table("a", LADDER_A)}

## Workload B: random prompts of the same length

${table("b", LADDER_B)}

## Targets

Keeping up: output tokens/s at least 90 % of the offered. The knee: the highest step at which \`prefix\` keeps up,
${knee.qps} QPS (least-in-flight keeps up to ${lifKnee} QPS).

| target | value | met |
|---|---|---|
${targets.map((t) => `| ${t.name} | ${t.value} | ${t.met ? "yes" : "**no**"} |`).join("\n")}

## The router's own cost (in-process, \`bench/lib/router-cost.mjs\`)

A ${cost.promptTokens}-token chat prompt (${cost.blocks} blocks), 4 replicas holding 16 tenants: rendering and hashing
${round(cost.hashUs, 1)} µs, the choice and the index update ${round(cost.pickUs, 1)} µs, in all ${round(cost.totalUs, 1)} µs per request;
with GATEWAY_WORKERS the chain's trip over IPC (base64 out, JSON both ways, back to int32s) adds ${round(cost.ipcUs, 1)} µs.
The prefix index: ${round(cost.index.bytesPerBlock, 1)} bytes a block (${cost.index.blocksHeld} blocks held over 4 replicas
at llm-d's 31,250-block capacity: ${round(cost.index.mb, 2)} MiB).
`;
writeFileSync(path.join(REPO, "bench/results/prefix.md"), md);
writeFileSync(
  path.join(REPO, "bench/results/prefix.json"),
  `${JSON.stringify({ started, quick: !!v.quick, sim: SIM, limits: LIMITS, shape: SHAPE, cost, runs, knee: knee.qps, targets }, null, 1)}\n`,
);
process.stdout.write(md);
if (v.strict && targets.some((t) => !t.met)) process.exit(1);
