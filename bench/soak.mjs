#!/usr/bin/env node
// Soak: mixed load (JSON and streaming, /llm and /v1) against a runner started with the simulator engine,
// with the engine killed -9 every N seconds. Reports requests served, errors by kind, restarts, and the
// gateway's memory at start and end. Traffic goes to 127.0.0.1 only; it stops by itself.
//
//   npm run soak -- --minutes 2 --crash-every 20 --concurrency 32
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Agent, request } from "undici";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    // The supervisor gives up after 5 crashes in 10 minutes (crash-loop limit): the default stays below it.
    "crash-every": { type: "string", default: "150" },
    concurrency: { type: "string", default: "32" },
  },
});
const minutes = Number(values.minutes);
const crashEvery = Number(values["crash-every"]);
const concurrency = Number(values.concurrency);
for (const [name, v] of [
  ["--minutes", minutes],
  ["--crash-every", crashEvery],
  ["--concurrency", concurrency],
]) {
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`${name} must be a positive number`);
    process.exit(2);
  }
}

const CLI = resolve(import.meta.dirname, "../dist/cli/main.js");
const TOKEN = "soak-token";
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
  LOG_LEVEL: "warn",
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

const agent = new Agent({ connections: concurrency * 2 });
const counts = { served: 0, byKind: {} };
const errorKind = (k) => {
  counts.byKind[k] = (counts.byKind[k] ?? 0) + 1;
};

async function one(i) {
  const route = i % 2 ? "/llm" : "/v1/chat/completions";
  const stream = i % 3 !== 0;
  const n = 5 + (i % 40);
  const prompt = Array.from({ length: n }, (_, k) => `w${(i + k) % 50}`).join(" ");
  const body = { messages: [{ role: "user", content: prompt }], max_tokens: n + 5, stream };
  try {
    const res = await request(`${url}${route}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(body),
      dispatcher: agent,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.body.text();
    if (res.statusCode === 503) {
      // Not ready (restarting): a well-behaved client waits as Retry-After says (capped to keep load on).
      errorKind("503 while the engine restarts");
      const wait = Math.min(1, Number(res.headers["retry-after"] ?? 1));
      return void (await new Promise((r) => setTimeout(r, wait * 1000)));
    }
    if (res.statusCode !== 200) return errorKind(`http ${res.statusCode}`);
    if (!stream) return void counts.served++;
    if (!text.endsWith("data: [DONE]\n\n")) return errorKind("stream without [DONE]");
    const last = text.split("\n\n").filter(Boolean).at(-2) ?? "";
    if (last.includes('"finish_reason":"error"') || last.startsWith('data: {"error"'))
      return errorKind("stream ended with an error event");
    counts.served++;
  } catch (err) {
    errorKind(
      err?.name === "TimeoutError" ? "client timeout (hung)" : `connection: ${err?.code ?? err?.name}`,
    );
  }
}

let stopping = false;
const cleanup = async () => {
  await cli(["stop", "--force", "--timeout", "30"]);
  rmSync(home, { recursive: true, force: true });
};
process.on("SIGINT", () => {
  stopping = true;
});

const started = await cli(["start", "--detach"]);
if (started.code !== 0) {
  console.error(`could not start the runner:\n${started.out}`);
  await cleanup();
  process.exit(1);
}
if ((minutes * 60) / crashEvery >= 5) {
  console.warn(
    "note: 5 or more crashes within 10 minutes reach the supervisor's crash-loop limit; it will then give up (state failed).",
  );
}
const first = await status();
const runnerPid = first.pid;
const memStart = rssMiB(runnerPid);
console.log(
  `soak: ${minutes} min, ${concurrency} clients, engine killed -9 every ${crashEvery} s; runner pid ${runnerPid}, ${url}`,
);

const endAt = Date.now() + minutes * 60_000;
let kills = 0;
const killer = setInterval(async () => {
  const s = await status();
  const pid = Number(s.engineId);
  if (Number.isInteger(pid) && pid > 0) {
    try {
      process.kill(pid, "SIGKILL");
      kills++;
    } catch {}
  }
}, crashEvery * 1000);
const reporter = setInterval(() => {
  console.log(
    `  ${Math.round((endAt - Date.now()) / 1000)} s left: served ${counts.served}, errors ${JSON.stringify(counts.byKind)}, RSS ${rssMiB(runnerPid).toFixed(1)} MiB`,
  );
}, 15_000);

let seq = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (!stopping && Date.now() < endAt) await one(seq++);
  }),
);
clearInterval(killer);
clearInterval(reporter);
// Let the last restart settle before the final figures.
for (let i = 0; i < 50 && (await status()).state !== "ready"; i++)
  await new Promise((r) => setTimeout(r, 200));
const last = await status();
const memEnd = rssMiB(runnerPid);
const errors = Object.values(counts.byKind).reduce((a, b) => a + b, 0);
const report = {
  minutes,
  requests: seq,
  served: counts.served,
  errors,
  errorsByKind: counts.byKind,
  engineKills: kills,
  restarts: last.restarts,
  finalState: last.state,
  gatewayRssMiB: { start: Number(memStart.toFixed(1)), end: Number(memEnd.toFixed(1)) },
};
console.log(JSON.stringify(report, null, 2));
await cleanup();
const hung = counts.byKind["client timeout (hung)"] ?? 0;
process.exit(hung > 0 || last.state !== "ready" ? 1 : 0);
