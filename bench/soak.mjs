#!/usr/bin/env node
// Soak: mixed load (JSON and streaming, /llm and /v1, some streams dropped by their client) against a runner with
// the simulator engine, while faults are injected in turn every --fault-every seconds:
//   crash      the engine is killed -9 under load;
//   hang       the engine wedges under load (SIGUSR1: no more tokens, /health still 200): the in-flight watchdog;
//   idle-hang  the load pauses, the idle engine wedges, and the canary must find it before traffic resumes.
// At the end: the ledger is audited against what the clients got (0 lost, 0 torn rows), the gateway's RSS drift is
// measured over the second half of the run, and the runner must be ready. Traffic goes to 127.0.0.1 only; the soak
// stops by itself (a hard deadline stops it even if something hangs).
//
//   npm run soak -- --minutes 2 --fault-every 20 --concurrency 32
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Agent, request } from "undici";
import { auditLedger } from "./lib/ledger-audit.mjs";
import { SoakClient } from "./lib/soak-client.mjs";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    "fault-every": { type: "string", default: "20" },
    concurrency: { type: "string", default: "32" },
    "disconnect-every": { type: "string", default: "7" },
    out: { type: "string", default: resolve(import.meta.dirname, "results/soak-latest.json") },
  },
});
const minutes = Number(values.minutes);
const faultEvery = Number(values["fault-every"]);
const concurrency = Number(values.concurrency);
const disconnectEvery = Number(values["disconnect-every"]);
for (const [name, v] of [
  ["--minutes", minutes],
  ["--fault-every", faultEvery],
  ["--concurrency", concurrency],
  ["--disconnect-every", disconnectEvery],
]) {
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`${name} must be a positive number, got ${JSON.stringify(String(v))}`);
    process.exit(2);
  }
}
if (faultEvery < 15) {
  console.error(
    "--fault-every must be at least 15 s: each fault needs time to be detected and the engine to restart",
  );
  process.exit(2);
}

const CLI = resolve(import.meta.dirname, "../dist/cli/main.js");
const TOKEN = "soak-token";
const RATE = 0.08 / 1_000_000;
const CANARY = { interval: 2, timeout: 3 };
const home = mkdtempSync(join(tmpdir(), "llmr-soak-"));
const port = await new Promise((res) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => res(p));
  });
});
const url = `http://127.0.0.1:${port}`;
const env = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  LLM_RUNNER_HOME: home,
  ENGINE: "sim",
  DRIVER: "process",
  HOST: "127.0.0.1",
  PORT: String(port),
  ENGINE_PORT: "0",
  AUTH_TOKEN: TOKEN,
  MAX_MODEL_LEN: "4096",
  MAX_NUM_BATCHED_TOKENS: "4096",
  SIM_ITL_MS: "10",
  // The proxy's cost, not prefill: the simulator's prefill model off.
  SIM_PREFILL_TPS: "0",
  LOG_LEVEL: "warn",
  ENGINE_HANG_TIMEOUT: "5",
  ENGINE_CANARY_INTERVAL: String(CANARY.interval),
  ENGINE_CANARY_TIMEOUT: String(CANARY.timeout),
  // Faults come every --fault-every s; the engine is ready most of that time. A stretch of half of it counts as
  // healthy, so the crash-loop limit only trips if the engine stops coming back.
  ENGINE_HEALTHY_RESET: String(faultEvery / 2),
};

function cli(args) {
  return new Promise((res) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (out += c));
    child.on("close", (code) => res({ code, out }));
  });
}
const status = async () => JSON.parse((await cli(["status", "--json"])).out || "{}");
const rssMiB = (pid) =>
  Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const health = async () => {
  try {
    const res = await request(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    return (await res.body.json()).status;
  } catch {
    return "unreachable";
  }
};
async function waitHealth(words, timeoutMs) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (words.includes(await health())) return Date.now() - t0;
    await sleep(100);
  }
  return null;
}

let cleaned = false;
const cleanup = async () => {
  if (cleaned) return;
  cleaned = true;
  await cli(["stop", "--force", "--timeout", "30"]);
  rmSync(home, { recursive: true, force: true });
};
// The soak must end by itself, whatever hangs.
setTimeout(
  async () => {
    console.error("soak: hard deadline passed; stopping the runner");
    await cleanup();
    process.exit(3);
  },
  (minutes + 4) * 60_000,
).unref();
let stopping = false;
process.on("SIGINT", () => {
  stopping = true;
});

const started = await cli(["start", "--detach"]);
if (started.code !== 0) {
  console.error(`could not start the runner:\n${started.out}`);
  await cleanup();
  process.exit(1);
}
const runnerPid = (await status()).pid;
console.log(
  `soak: ${minutes} min, ${concurrency} clients, a fault every ${faultEvery} s (crash, hang, idle-hang), every ` +
    `${disconnectEvery}th request dropped mid-stream if streamed; runner pid ${runnerPid}, ${url}`,
);

const agent = new Agent({ connections: concurrency * 2 });
const client = new SoakClient({ url, token: TOKEN, agent, disconnectEvery, timeoutMs: 30_000 });
const t0 = Date.now();
const endAt = t0 + minutes * 60_000;
// RSS: a leak keeps growing under steady load; the allocator's and V8's high-water mark levels off. So drift is
// measured from half-way to the end, both under the same load (a 30-min run levelled off after ~16 min). The
// series (one sample a minute) and the size at 10 % of the run are reported too.
const warmAt = t0 + Math.max(30_000, minutes * 6_000);
const halfAt = t0 + minutes * 30_000;
const rss = { start: rssMiB(runnerPid), warm: null, half: null, peak: 0, end: null, perMinute: [] };
const faults = { crash: 0, hang: 0, "idle-hang": 0, idleHangFoundMs: [], idleHangMissed: 0 };
let paused = false;

const sampler = setInterval(() => {
  const now = rssMiB(runnerPid);
  rss.peak = Math.max(rss.peak, now);
  if (rss.warm === null && Date.now() >= warmAt) rss.warm = now;
  if (rss.half === null && Date.now() >= halfAt) rss.half = now;
  if (Date.now() - t0 >= (rss.perMinute.length + 1) * 60_000) rss.perMinute.push(+now.toFixed(1));
}, 1_000);
const reporter = setInterval(() => {
  console.log(
    `  ${Math.round((endAt - Date.now()) / 1000)} s left: delivered ${client.served}, dropped ${client.disconnects}, ` +
      `faults ${JSON.stringify({ crash: faults.crash, hang: faults.hang, idle: faults["idle-hang"] })}, ` +
      `other ${JSON.stringify(client.byKind)}, RSS ${rssMiB(runnerPid).toFixed(1)} MiB`,
  );
}, 30_000);

async function engineSignal(signal) {
  const pid = Number((await status()).engineId);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

async function idleHang() {
  paused = true;
  try {
    if ((await waitHealth(["IDLE"], 30_000)) === null) return;
    if (!(await engineSignal("SIGUSR1"))) return;
    faults["idle-hang"]++;
    // No user traffic now: only the canary can find the hang.
    const found = await waitHealth(["LOADING", "ERROR"], (CANARY.interval + CANARY.timeout) * 1000 + 10_000);
    if (found === null) faults.idleHangMissed++;
    else faults.idleHangFoundMs.push(found);
    await waitHealth(["IDLE", "OK"], 30_000);
  } finally {
    paused = false;
  }
}

const kinds = ["crash", "hang", "idle-hang"];
const faulter = (async () => {
  for (let k = 0; ; k++) {
    const at = t0 + (k + 1) * faultEvery * 1000;
    if (at > endAt - faultEvery * 500) return; // leave the end of the run fault-free so it can settle
    await sleep(at - Date.now());
    if (stopping) return;
    const kind = kinds[k % kinds.length];
    if (kind === "idle-hang") await idleHang();
    else if (await engineSignal(kind === "crash" ? "SIGKILL" : "SIGUSR1")) faults[kind]++;
  }
})();

let seq = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (!stopping && Date.now() < endAt) {
      if (paused) await sleep(100);
      else await client.one(seq++);
    }
  }),
);
await faulter;
clearInterval(sampler);
clearInterval(reporter);
await waitHealth(["IDLE", "OK"], 60_000);
await sleep(5_000); // let the gateway settle (sockets closed, GC) before the last memory figure
rss.end = rssMiB(runnerPid);
rss.warm ??= rss.start;
rss.half ??= rss.warm;
const metrics = await (await request(`${url}/metrics`)).body.text();
const canaryTimeouts = Number(
  /llm_runner_canary_requests_total\{result="timeout"\} (\d+)/.exec(metrics)?.[1] ?? 0,
);
const canaryOk = Number(/llm_runner_canary_requests_total\{result="ok"\} (\d+)/.exec(metrics)?.[1] ?? 0);
const last = await status();
await cli(["stop", "--timeout", "30"]); // a clean stop, so the ledger is closed before it is read
const ledger = auditLedger(join(home, "ledger.sqlite"), client.delivered, RATE, client.dropped);
await cleanup();

const hung = client.byKind["client timeout (hung)"] ?? 0;
const drift = (rss.end - rss.half) / rss.half;
const report = {
  at: new Date().toISOString(),
  minutes,
  faultEverySeconds: faultEvery,
  concurrency,
  requests: seq,
  delivered: client.served,
  droppedByClient: client.disconnects,
  otherOutcomes: client.byKind,
  hungRequests: hung,
  faults: {
    crashes: faults.crash,
    hangsUnderLoad: faults.hang,
    idleHangs: faults["idle-hang"],
    idleHangsFoundByCanary: faults.idleHangFoundMs.length,
    idleHangsMissed: faults.idleHangMissed,
    idleHangFoundAfterMs: faults.idleHangFoundMs,
  },
  canary: { ok: canaryOk, timeouts: canaryTimeouts },
  restarts: last.restarts,
  finalState: last.state,
  ledger: {
    ...ledger,
    lost: ledger.lost.length,
    torn: ledger.torn.length,
    lostSample: ledger.lost.slice(0, 5),
    tornSample: ledger.torn.slice(0, 5),
  },
  gatewayRssMiB: {
    start: +rss.start.toFixed(1),
    at10Percent: +rss.warm.toFixed(1),
    atHalf: +rss.half.toFixed(1),
    peak: +rss.peak.toFixed(1),
    end: +rss.end.toFixed(1),
    driftSecondHalf: `${(drift * 100).toFixed(1)} %`,
    driftFrom10Percent: `${(((rss.end - rss.warm) / rss.warm) * 100).toFixed(1)} %`,
    perMinute: rss.perMinute,
  },
};
console.log(JSON.stringify(report, null, 2));
mkdirSync(resolve(values.out, ".."), { recursive: true });
writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
const failures = [
  hung > 0 && `${hung} hung request(s)`,
  ledger.lost.length > 0 && `${ledger.lost.length} lost ledger row(s)`,
  ledger.torn.length > 0 && `${ledger.torn.length} torn ledger row(s)`,
  ledger.integrity !== "ok" && `ledger integrity: ${ledger.integrity}`,
  drift >= 0.1 && `gateway RSS drift over the second half ${(drift * 100).toFixed(1)} % ≥ 10 %`,
  faults.idleHangMissed > 0 && `${faults.idleHangMissed} idle hang(s) not found by the canary`,
  last.state !== "ready" && `final state ${last.state}, not ready`,
].filter(Boolean);
if (failures.length > 0) console.error(`soak FAILED: ${failures.join("; ")}`);
else console.log("soak passed");
process.exit(failures.length > 0 ? 1 : 0);
