// The three things under test, started as separate processes on the server core:
//  * the gateway: the built CLI (`node dist/cli/main.js start --engine sim --driver process`) with auth, pricing,
//    ledger and metrics on, which starts its own simulator engine;
//  * a direct engine: a second simulator with exactly the gateway engine's argv (read from /proc) but its own
//    port and a known key, so "direct" and "floor" measure the same engine build and flags;
//  * the floor proxy in front of the direct engine.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { openSync } from "node:fs";
import path from "node:path";
import { request } from "undici";
import { cmdline, freePort, pinPid, waitFor } from "./procs.mjs";

const BASE_ENV_KEYS = ["PATH", "HOME", "LANG", "TMPDIR", "PYENV_ROOT", "PYENV_VERSION"];

function baseEnv() {
  const env = {};
  for (const k of BASE_ENV_KEYS) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

async function getText(url) {
  const res = await request(url, { headersTimeout: 2_000, bodyTimeout: 2_000 });
  return { status: res.statusCode, text: await res.body.text() };
}

/**
 * Starts the gateway through the built CLI and waits until /health says the engine is ready.
 * @param {import("./procs.mjs").ProcessSet} procs
 */
export async function startGateway(
  procs,
  { repo, home, sim, limits, cores, cpuProfDir = null, env: extraEnv = {} },
) {
  const port = await freePort();
  const enginePort = await freePort();
  const token = randomBytes(24).toString("hex");
  const env = {
    ...baseEnv(),
    AUTH_TOKEN: token,
    LLM_RUNNER_HOME: home,
    LOG_LEVEL: "info",
    SIM_ITL_MS: String(sim.itlMs),
    SIM_TTFT_MS: String(sim.ttftMs),
    // The proxy's cost, not prefill: the simulator's prefill model off.
    SIM_PREFILL_TPS: "0",
    MAX_MODEL_LEN: String(limits.maxModelLen),
    MAX_NUM_SEQS: String(limits.maxNumSeqs),
    MAX_NUM_BATCHED_TOKENS: String(limits.maxNumBatchedTokens),
    QUEUE_SIZE: String(limits.queueSize),
    ...extraEnv,
  };
  const nodeArgs = cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] : [];
  const args = [
    ...nodeArgs,
    path.join(repo, "dist/cli/main.js"),
    "start",
    "--engine",
    "sim",
    "--driver",
    "process",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--engine-port",
    String(enginePort),
  ];
  const log = openSync(path.join(home, "gateway.log"), "a");
  const child = procs.spawn("gateway", process.execPath, args, {
    env,
    cwd: repo,
    stdio: log,
    core: cores?.proxy ?? null,
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error("exited");
      const { status, text } = await getText(`${origin}/health`);
      return status === 200 && /"(OK|IDLE)"/.test(text);
    },
    30_000,
    `the gateway at ${origin} to report the engine ready (log: ${home}/gateway.log)`,
  ).catch((err) => {
    if (child.exitCode !== null) {
      throw new Error(`the gateway exited with code ${child.exitCode}; see ${home}/gateway.log`);
    }
    throw err;
  });
  const status = spawnSync(process.execPath, [path.join(repo, "dist/cli/main.js"), "status", "--json"], {
    env: { ...baseEnv(), LLM_RUNNER_HOME: home },
    encoding: "utf8",
  });
  const enginePid = Number(JSON.parse(status.stdout).engineId);
  if (!Number.isInteger(enginePid)) throw new Error(`status --json gave no engine pid: ${status.stdout}`);
  procs.adopt(enginePid, "gateway's engine");
  // The engine inherited the gateway's core; give it the engines' core when the layout separates them.
  if (cores && cores.engine !== cores.proxy) pinPid(enginePid, cores.engine);
  const engineArgv = cmdline(enginePid);
  if (!engineArgv?.includes("llm_runtime")) {
    throw new Error(`pid ${enginePid} is not the simulator engine: ${engineArgv?.join(" ")}`);
  }
  return {
    pid: child.pid,
    origin,
    token,
    enginePid,
    engineOrigin: `http://127.0.0.1:${enginePort}`,
    engineArgv,
  };
}

/** A second simulator with the gateway engine's exact flags, on its own port, with a key we know. */
export async function startDirectEngine(procs, { repo, engineArgv, home, cores }) {
  const port = await freePort();
  const key = randomBytes(16).toString("hex");
  const argv = [...engineArgv];
  const at = argv.indexOf("--port");
  if (at === -1) throw new Error(`the gateway's engine argv has no --port: ${argv.join(" ")}`);
  argv[at + 1] = String(port);
  const [python, ...args] = argv;
  const env = { ...baseEnv(), PYTHONPATH: path.join(repo, "runtime"), VLLM_API_KEY: key };
  const log = openSync(path.join(home, "direct-engine.log"), "a");
  const child = procs.spawn("direct engine", python, args, {
    env,
    cwd: repo,
    stdio: log,
    core: cores?.engine ?? null,
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`the direct engine exited; see ${home}/direct-engine.log`);
      return (await getText(`${origin}/health`)).status === 200;
    },
    30_000,
    `the direct engine at ${origin}`,
  );
  return { pid: child.pid, origin, key };
}

/** The floor proxy (bench/lib/floor-proxy.mjs) in its own process, in front of `upstream`. */
export async function startFloor(procs, { repo, upstream, key, home, connections, cores }) {
  const env = { ...baseEnv(), FLOOR_UPSTREAM_KEY: key };
  const log = openSync(path.join(home, "floor.log"), "a");
  const port = await freePort();
  const child = procs.spawn(
    "floor proxy",
    process.execPath,
    [
      path.join(repo, "bench/lib/floor-proxy.mjs"),
      "--upstream",
      upstream,
      "--port",
      String(port),
      "--connections",
      String(connections),
    ],
    { env, cwd: repo, stdio: log, core: cores?.proxy ?? null },
  );
  const origin = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`the floor proxy exited; see ${home}/floor.log`);
      return (await getText(`${origin}/health`)).status === 200;
    },
    15_000,
    `the floor proxy at ${origin}`,
  );
  return { pid: child.pid, origin };
}

/** The engine's own count of generated tokens (vllm:generation_tokens_total, all label sets). */
export async function engineGeneratedTokens(engineOrigin) {
  const { status, text } = await getText(`${engineOrigin}/metrics`);
  if (status !== 200) throw new Error(`${engineOrigin}/metrics answered HTTP ${status}`);
  let total = 0;
  let seen = false;
  for (const line of text.split("\n")) {
    if (!line.startsWith("vllm:generation_tokens_total")) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(value)) {
      total += value;
      seen = true;
    }
  }
  if (!seen) throw new Error(`${engineOrigin}/metrics has no vllm:generation_tokens_total`);
  return total;
}
