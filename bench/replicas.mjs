// `npm run bench:replicas`: the same total concurrency against 1, 2 and 4 simulator replicas behind one gateway
// (REPLICAS), streaming. Reports text events/s and the gateway's own CPU per event (utime + stime of the node
// process only, not its engines), so it shows when the gateway — not the engines — becomes the limit: if events/s
// stops growing with replicas while the gateway's CPU per event stays flat and its core is full, the gateway is
// the ceiling. The sim runs at ITL 0 / TTFT 0 (the engines as fast as the CPU lets them).
//
//   npm run bench:replicas                 # 100 streams, 3 rounds per replica count (medians)
//   npm run bench:replicas -- --quick      # 1 round, shorter windows
//   npm run bench:replicas -- --streams 200
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, openSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { request } from "undici";
import { runCell } from "./lib/load.mjs";
import { cpuSeconds, freePort, ProcessSet, waitFor } from "./lib/procs.mjs";
import { LIMITS, openAiBody, STREAM_TOKENS } from "./lib/scenario.mjs";
import { medianOf, round } from "./lib/stats.mjs";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const COUNTS = [1, 2, 4];
const MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct";

const { values: v } = parseArgs({
  options: { quick: { type: "boolean" }, streams: { type: "string", default: "100" } },
  strict: true,
});
const streams = Number(v.streams);
if (!Number.isInteger(streams) || streams < 1 || streams > 2000) {
  process.stderr.write(`--streams must be a whole number from 1 to 2000 (got "${v.streams}").\n`);
  process.exit(2);
}
const rounds = v.quick ? 1 : 3;
const timing = v.quick ? { warmupMs: 800, durationMs: 1_500 } : { warmupMs: 1_000, durationMs: 3_000 };

async function startGateway(procs, home, replicas) {
  const port = await freePort();
  const token = randomBytes(24).toString("hex");
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? os.homedir(),
    AUTH_TOKEN: token,
    LLM_RUNNER_HOME: home,
    SIM_ITL_MS: "0",
    SIM_TTFT_MS: "0",
    // The proxy's cost, not prefill: the simulator's prefill model off.
    SIM_PREFILL_TPS: "0",
    MAX_MODEL_LEN: String(LIMITS.maxModelLen),
    // The same total slots whatever the replica count: admission never refuses.
    MAX_NUM_SEQS: String(Math.max(1, Math.ceil(LIMITS.maxNumSeqs / replicas))),
    MAX_NUM_BATCHED_TOKENS: String(LIMITS.maxNumBatchedTokens),
    QUEUE_SIZE: String(LIMITS.queueSize),
    REPLICAS: String(replicas),
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
      // /ready is 200 once any replica is; wait for all of them.
      const status = spawnSync(process.execPath, [path.join(REPO, "dist/cli/main.js"), "status", "--json"], {
        env: { ...env, LLM_RUNNER_HOME: home },
        encoding: "utf8",
      });
      const s = JSON.parse(status.stdout || "{}");
      const states = (s.replicas ?? [{ state: s.state }]).map((r) => r.state);
      if (res.statusCode === 200 && states.every((st) => st === "ready")) {
        for (const id of String(s.engineId).split(","))
          if (/^\d+$/.test(id)) procs.adopt(Number(id), "engine");
        return true;
      }
      return false;
    },
    60_000,
    `${replicas} replica(s) ready at ${origin}`,
  );
  return { pid: child.pid, origin, token };
}

const rows = [];
for (const replicas of COUNTS) {
  const results = [];
  for (let r = 0; r < rounds; r++) {
    const home = mkdtempSync(path.join(os.tmpdir(), "llmr-bench-replicas-"));
    const procs = new ProcessSet();
    try {
      const gw = await startGateway(procs, home, replicas);
      const target = {
        origin: gw.origin,
        path: "/v1/chat/completions",
        headers: { authorization: `Bearer ${gw.token}` },
        body: openAiBody(MODEL, STREAM_TOKENS),
      };
      const cpu0 = cpuSeconds(gw.pid);
      const res = await runCell({
        target,
        stream: true,
        concurrency: streams,
        ...timing,
        drainMs: 20_000,
        expectedTokens: STREAM_TOKENS,
      });
      const cpu = cpuSeconds(gw.pid) - cpu0;
      results.push({
        eventsPerSec: res.eventsPerSec,
        cpuUsPerEvent: (cpu * 1e6) / Math.max(1, res.events),
        errors: res.errors,
      });
    } finally {
      await procs.stopAll();
      rmSync(home, { recursive: true, force: true });
    }
  }
  rows.push({
    replicas,
    eventsPerSec: round(medianOf(results.map((x) => x.eventsPerSec)), 0),
    gatewayCpuUsPerEvent: round(medianOf(results.map((x) => x.cpuUsPerEvent)), 1),
    errors: results.reduce((n, x) => n + x.errors, 0),
  });
  process.stderr.write(`replicas ${replicas}: ${JSON.stringify(rows.at(-1))}\n`);
}
process.stdout.write(
  `\nstreams ${streams} (total), ${STREAM_TOKENS} tokens each, sim ITL 0, ${rounds} round(s)\n`,
);
process.stdout.write(
  "| replicas | text events/s | gateway CPU µs / event | errors |\n|---:|---:|---:|---:|\n",
);
for (const r of rows)
  process.stdout.write(`| ${r.replicas} | ${r.eventsPerSec} | ${r.gatewayCpuUsPerEvent} | ${r.errors} |\n`);
