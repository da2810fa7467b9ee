// Does the gateway keep memory it should have let go? Starts the built runner (simulator engine) with
// --heapsnapshot-signal, warms it up, then takes a heap snapshot (V8 collects garbage fully first) before and
// after 1,000 clients that disconnect mid-stream, and after 10,000 completed requests (both routes, streaming
// and not). Retained heap (the snapshot's live bytes) must come back within 5 MiB of the warm baseline; RSS is
// reported beside it, since RSS keeps allocator high-water that is not a leak.
//
//   npm run build --silent && node bench/memory.mjs [--disconnects 1000] [--requests 10000] [--json out.json]
//
// Exit code 1 when retained heap grew by more than the limit (the constructors that grew are printed).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Pool } from "undici";
import { growth, summarizeSnapshot } from "./lib/heap-snapshot.mjs";
import { freePort, sleep, waitFor } from "./lib/procs.mjs";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const LIMIT_BYTES = 5 * 1024 * 1024;
const MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct";
const MiB = (b) => Math.round((b / 1024 / 1024) * 100) / 100;

const { values: opts } = parseArgs({
  options: {
    disconnects: { type: "string", default: "1000" },
    requests: { type: "string", default: "10000" },
    json: { type: "string" },
  },
});

const work = mkdtempSync(path.join(tmpdir(), "llmr-memory-"));
const port = await freePort();
const token = randomBytes(16).toString("hex");
const runner = spawn(
  process.execPath,
  [
    "--heapsnapshot-signal=SIGUSR2",
    `--diagnostic-dir=${work}`,
    path.join(REPO, "dist/cli/main.js"),
    "start",
    "--engine=sim",
    "--driver=process",
    "--host=127.0.0.1",
    `--port=${port}`,
  ],
  {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      LLM_RUNNER_HOME: path.join(work, "home"),
      AUTH_TOKEN: token,
      LOG_LEVEL: "warn",
      MAX_MODEL_LEN: "2048",
      MAX_NUM_BATCHED_TOKENS: "8192",
      MAX_NUM_SEQS: "256",
      QUEUE_SIZE: "256",
      SIM_TTFT_MS: "0",
      SIM_ITL_MS: "2",
      // The proxy's cost, not prefill: the simulator's prefill model off.
      SIM_PREFILL_TPS: "0",
    },
    stdio: ["ignore", "ignore", "inherit"],
  },
);
const stopRunner = async () => {
  if (runner.exitCode !== null) return;
  runner.kill("SIGTERM");
  await waitFor(() => runner.exitCode !== null, 30_000, "the runner to stop").catch(() =>
    runner.kill("SIGKILL"),
  );
};
process.on("exit", () => {
  if (runner.exitCode === null) runner.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

const origin = `http://127.0.0.1:${port}`;
const pool = new Pool(origin, { connections: 64 });
const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
const bodyFor = (route, stream, maxTokens) =>
  JSON.stringify({
    ...(route === "/llm" ? {} : { model: MODEL }),
    messages: [{ role: "user", content: "tell me about memory" }],
    max_tokens: maxTokens,
    stream,
  });

async function complete(i) {
  const route = i % 2 === 0 ? "/llm" : "/v1/chat/completions";
  const stream = i % 4 >= 2;
  const res = await pool.request({ path: route, method: "POST", headers, body: bodyFor(route, stream, 8) });
  await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${route} answered ${res.statusCode}`);
}

/** A streaming client that leaves after its first data frame (the socket is destroyed mid-stream). */
function disconnect(i) {
  const route = i % 2 === 0 ? "/llm" : "/v1/chat/completions";
  const body = bodyFor(route, true, 500);
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("no data frame within 15 s"));
    }, 15_000);
    let seen = "";
    socket.on("connect", () =>
      socket.write(
        `POST ${route} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      ),
    );
    socket.on("data", (d) => {
      seen += d.toString();
      if (/\r\n\r\n[\s\S]*data: /.test(seen)) {
        clearTimeout(timer);
        socket.destroy();
        resolve();
      }
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function inParallel(count, limit, task) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

async function metric(name) {
  const res = await pool.request({ path: "/metrics", method: "GET" });
  const text = await res.body.text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : null;
}

function rssBytes() {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${runner.pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : null;
}

/** SIGUSR2 → the runner writes a snapshot into `work`; waits until the new file is complete, then reads it. */
async function snapshot(label) {
  // Every aborted stream has finished its ledger row and let go of its upstream request first.
  // (When the gauge is not there, a fixed pause stands in.)
  await waitFor(
    async () => {
      const n = await metric("llm_runner_in_flight_requests");
      return n === null || n === 0;
    },
    30_000,
    "no request in flight",
  );
  await sleep(1_000);
  const before = new Set(readdirSync(work).filter((f) => f.endsWith(".heapsnapshot")));
  runner.kill("SIGUSR2");
  const file = await waitFor(
    () => readdirSync(work).find((f) => f.endsWith(".heapsnapshot") && !before.has(f)) ?? null,
    60_000,
    `heap snapshot ${label}`,
  );
  const full = path.join(work, file);
  // Written in pieces while V8 walks the heap: read it once it parses (a complete file always does).
  const summary = await waitFor(
    async () => {
      await sleep(500);
      return statSync(full).size > 0 ? summarizeSnapshot(full) : null;
    },
    120_000,
    `a complete ${file}`,
  );
  rmSync(full);
  const rss = rssBytes();
  console.log(`${label.padEnd(34)} retained heap ${MiB(summary.totalBytes)} MiB   RSS ${MiB(rss)} MiB`);
  return { label, retainedBytes: summary.totalBytes, rssBytes: rss, summary };
}

try {
  await waitFor(
    async () => {
      try {
        const res = await pool.request({ path: "/health", method: "GET" });
        const word = (await res.body.json()).status;
        return word === "OK" || word === "IDLE" || null;
      } catch {
        return null;
      }
    },
    90_000,
    "the runner to be ready",
  );
  // Warm-up: JIT, connection pools, the ledger's statement cache, metric label sets.
  await inParallel(1_000, 32, complete);
  await inParallel(100, 20, disconnect);
  const base = await snapshot("warm baseline");
  await inParallel(Number(opts.disconnects), 50, disconnect);
  const afterDisconnects = await snapshot(`after ${opts.disconnects} mid-stream disconnects`);
  await inParallel(Number(opts.requests), 64, complete);
  const afterRequests = await snapshot(`after ${opts.requests} completed requests`);

  const rows = [afterDisconnects, afterRequests].map((s) => ({
    phase: s.label,
    retainedDeltaMiB: MiB(s.retainedBytes - base.retainedBytes),
    rssDeltaMiB: MiB(s.rssBytes - base.rssBytes),
  }));
  console.table(rows);
  const worst = Math.max(
    ...[afterDisconnects, afterRequests].map((s) => s.retainedBytes - base.retainedBytes),
  );
  const result = {
    limitMiB: MiB(LIMIT_BYTES),
    baseline: { retainedMiB: MiB(base.retainedBytes), rssMiB: MiB(base.rssBytes) },
    phases: rows,
    ok: worst <= LIMIT_BYTES,
  };
  if (opts.json) writeFileSync(opts.json, `${JSON.stringify(result, null, 2)}\n`);
  console.log("what grew most (baseline → after the completed requests):");
  console.table(growth(base.summary, afterRequests.summary));
  console.log(
    result.ok ? "OK: retained heap back within 5 MiB" : "FAIL: retained heap grew by more than 5 MiB",
  );
  process.exitCode = result.ok ? 0 : 1;
} finally {
  await pool.close();
  await stopRunner();
}
