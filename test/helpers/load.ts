import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { Agent, request } from "undici";
import { isAlive, killGroup, waitForExit } from "../../src/engine/process-group.js";
import { cliEnv, freePort, runCli, tempHome, waitFor } from "./cli.js";

// Load and fault helpers for the reliability and security tests: a runner started through the built CLI
// (simulator engine, process driver), clients that stream, disconnect or stall, and readers of what the
// runner exposes (/metrics, /proc, status --json).

export const TOKEN = "reliability-test-token";

/** Enough connections for every concurrent client of a test; undici's default would queue them. */
export const clientAgent = new Agent({ connections: 2_000, pipelining: 1, keepAliveTimeout: 1_000 });

export interface Runner {
  url: string;
  port: number;
  home: string;
  env: NodeJS.ProcessEnv;
  /** The runner (gateway + supervisor) process. */
  pid: number;
  status(): Promise<Record<string, unknown>>;
  enginePid(): Promise<number | null>;
  /** Stops the runner (forced) and anything it left behind; idempotent. */
  stop(): Promise<void>;
}

const live = new Set<Runner>();

/** Stops every runner a test started (use in afterEach/afterAll: it runs even when the test failed). */
export async function stopAllRunners(): Promise<void> {
  for (const r of [...live]) await r.stop();
}

export interface StartOptions {
  /** Kept when restarting a killed runner in the same home. */
  home?: string;
  port?: number;
  /** false: only prepare the home and environment (the test starts the runner its own way). */
  launch?: boolean;
  /** false: no AUTH_TOKEN (the default configuration); otherwise TOKEN. */
  auth?: boolean;
}

/** Starts `llm-runner start --detach` with the simulator engine and waits until it is ready. */
export async function startRunner(
  extra: Record<string, string> = {},
  options: StartOptions = {},
): Promise<Runner> {
  const made = options.home ? null : tempHome("llmr-rel-");
  const home = options.home ?? (made as { home: string }).home;
  const port = options.port ?? (await freePort());
  const env = cliEnv(home, {
    ENGINE: "sim",
    DRIVER: "process",
    HOST: "127.0.0.1",
    PORT: String(port),
    ENGINE_PORT: "0",
    ...(options.auth === false ? {} : { AUTH_TOKEN: TOKEN }),
    MAX_MODEL_LEN: "4096",
    MAX_NUM_BATCHED_TOKENS: "4096",
    ...extra,
  });
  const status = async () => {
    const res = await runCli(["status", "--json"], env);
    return JSON.parse(res.stdout || "{}") as Record<string, unknown>;
  };
  const enginePids = new Set<number>();
  let runnerPid = 0;
  const enginePid = async () => {
    const id = (await status()).engineId;
    const pid = typeof id === "string" && /^\d+$/.test(id) ? Number(id) : null;
    if (pid !== null) enginePids.add(pid);
    return pid;
  };
  let stopped = false;
  const runner: Runner = {
    url: `http://127.0.0.1:${port}`,
    port,
    home,
    env,
    get pid() {
      return runnerPid;
    },
    status,
    enginePid,
    async stop() {
      if (stopped) return;
      stopped = true;
      live.delete(runner);
      await runCli(["stop", "--force", "--timeout", "20"], env).catch(() => undefined);
      if (runnerPid && isAlive(runnerPid)) process.kill(runnerPid, "SIGKILL");
      // Whatever engine is still ours (the runner was killed -9, or stop failed): its pid file names it.
      for (const pid of [...enginePids, ...pidFileEngines(home)]) {
        if (isAlive(pid)) killGroup(pid, "SIGKILL");
        await waitForExit(pid, 5_000);
      }
      made?.cleanup();
    },
  };
  live.add(runner);
  if (options.launch === false) return runner;
  const started = await runCli(["start", "--detach"], env, 90_000);
  if (started.code !== 0) {
    await runner.stop();
    throw new Error(
      `llm-runner start --detach failed (exit ${started.code}):\n${started.stdout}\n${started.stderr}`,
    );
  }
  const s = await status();
  runnerPid = Number(s.pid);
  await enginePid();
  return runner;
}

/** Engine pids recorded in <home>/engines/*.json (the process driver's orphan records). */
export function pidFileEngines(home: string): number[] {
  const dir = join(home, "engines");
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const f of files) {
    try {
      const pid = (JSON.parse(readFileSync(join(dir, f), "utf8")) as { pid?: unknown }).pid;
      if (typeof pid === "number" && Number.isInteger(pid)) pids.push(pid);
    } catch {
      // torn or foreign file
    }
  }
  return pids;
}

export function authHeaders(token: string | null = TOKEN): Record<string, string> {
  return { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) };
}

/** A prompt the simulator (echo mode) answers with `words` tokens. */
export function words(n: number, seed = 0): string {
  return Array.from({ length: n }, (_, i) => `w${(i + seed) % 97}`).join(" ");
}

export type Route = "/llm" | "/v1/chat/completions";

export function chatBody(route: Route, prompt: string, maxTokens: number, stream: boolean): string {
  const messages = [{ role: "user", content: prompt }];
  return JSON.stringify(
    route === "/llm"
      ? { messages, max_tokens: maxTokens, stream }
      : { model: "meta-llama/Meta-Llama-3.1-8B-Instruct", messages, max_tokens: maxTokens, stream },
  );
}

export interface ClientResult {
  status: number | null; // null: no response headers at all
  contentType: string;
  requestId: string | null;
  text: string;
  /** The response body ended (cleanly) as far as the client saw. */
  complete: boolean;
  /** The client gave up after its timeout. */
  timedOut: boolean;
  /** The connection failed (before or after the headers). */
  error: string | null;
  ms: number;
}

/** One request read to its end, bounded by `timeoutMs`; never throws. */
export async function call(
  url: string,
  path: string,
  body: string | Buffer,
  options: {
    headers?: Record<string, string>;
    method?: "POST" | "GET";
    timeoutMs?: number;
    /** Close the connection after this request (an early answer may leave it unusable). */
    reset?: boolean;
  } = {},
): Promise<ClientResult> {
  const started = Date.now();
  const signal = AbortSignal.timeout(options.timeoutMs ?? 30_000);
  const out: ClientResult = {
    status: null,
    contentType: "",
    requestId: null,
    text: "",
    complete: false,
    timedOut: false,
    error: null,
    ms: 0,
  };
  try {
    const res = await request(`${url}${path}`, {
      method: options.method ?? "POST",
      headers: options.headers ?? authHeaders(),
      body: options.method === "GET" ? null : body,
      signal,
      dispatcher: clientAgent,
      reset: options.reset === true,
    });
    out.status = res.statusCode;
    out.contentType = String(res.headers["content-type"] ?? "");
    const rid = res.headers["x-request-id"];
    out.requestId = typeof rid === "string" ? rid : null;
    for await (const chunk of res.body) out.text += chunk.toString();
    out.complete = true;
  } catch (err) {
    out.timedOut = signal.aborted;
    out.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
  out.ms = Date.now() - started;
  return out;
}

/** The `data:` payloads of an SSE body, in order. */
export function sseData(text: string): string[] {
  return text
    .split("\n\n")
    .filter((f) => f.trim() !== "")
    .map((f) => (f.startsWith("data: ") ? f.slice(6) : `<not a data frame: ${f.slice(0, 80)}>`));
}

/**
 * Why a streamed answer is not well-formed, or null when it is: either a clean HTTP error with a JSON error
 * body, or an SSE stream of JSON chunks ending in [DONE] whose last chunk is a proper ending for the route.
 */
export function streamProblem(route: Route, r: ClientResult): string | null {
  if (r.timedOut) return `hung: no end after ${r.ms} ms`;
  if (r.status === null) return `no HTTP response: ${r.error}`;
  if (r.status !== 200) {
    if (r.status < 400) return `unexpected status ${r.status}`;
    try {
      const body = JSON.parse(r.text) as Record<string, unknown>;
      const msg =
        route === "/llm"
          ? (body.detail as { msg?: unknown })?.msg
          : (body.error as { message?: unknown })?.message;
      return typeof msg === "string" && msg !== ""
        ? null
        : `HTTP ${r.status} without an error message: ${r.text}`;
    } catch {
      return `HTTP ${r.status} with a non-JSON body: ${r.text.slice(0, 200)}`;
    }
  }
  if (!r.complete) return `the stream broke off without an ending (${r.error}) after: ${r.text.slice(-300)}`;
  if (!r.contentType.startsWith("text/event-stream")) return `content-type ${r.contentType}`;
  const data = sseData(r.text);
  if (data.at(-1) !== "[DONE]") return `no [DONE] at the end: ${r.text.slice(-300)}`;
  const chunks: Array<Record<string, unknown>> = [];
  for (const d of data.slice(0, -1)) {
    try {
      chunks.push(JSON.parse(d) as Record<string, unknown>);
    } catch {
      return `a frame is not JSON: ${d.slice(0, 200)}`;
    }
  }
  const last = chunks.at(-1);
  if (!last) return "no chunk before [DONE]";
  if (route === "/llm") {
    for (const c of chunks) {
      if (!Array.isArray(c.choices) || c.choices.length === 0)
        return `a /llm chunk without choices[0]: ${JSON.stringify(c)}`;
    }
    const reason = (last.choices as Array<{ finish_reason?: unknown }>)[0]?.finish_reason;
    if (reason === "error") {
      const msg = (last.error as { message?: unknown } | undefined)?.message;
      return typeof msg === "string" && msg !== ""
        ? null
        : `error chunk without error.message: ${JSON.stringify(last)}`;
    }
    return reason === "stop" || reason === "length"
      ? null
      : `last /llm chunk has finish_reason ${String(reason)}`;
  }
  if (last.error !== undefined) {
    const msg = (last.error as { message?: unknown }).message;
    return typeof msg === "string" && msg !== ""
      ? null
      : `OpenAI error event without a message: ${JSON.stringify(last)}`;
  }
  const ended = chunks.some((c) =>
    (c.choices as Array<{ finish_reason?: unknown }> | undefined)?.some(
      (ch) => typeof ch.finish_reason === "string",
    ),
  );
  return ended ? null : "the /v1 stream has neither a finish_reason nor an error event";
}

/** Whether a well-formed stream ended with the route's error ending (not a normal finish). */
export function endedInError(route: Route, r: ClientResult): boolean {
  if (r.status !== 200) return true;
  const data = sseData(r.text).slice(0, -1);
  const last = JSON.parse(data.at(-1) ?? "{}") as Record<string, unknown>;
  if (route === "/llm")
    return (last.choices as Array<{ finish_reason?: unknown }>)?.[0]?.finish_reason === "error";
  return last.error !== undefined;
}

/** A Prometheus sample's value from a metrics text (the first series with that name), or null. */
export function metric(text: string, name: string): number | null {
  const escaped = name.replace(/[.*+?^${}()|[\]\\:]/g, "\\$&");
  const m = new RegExp(`^${escaped}(?:\\{[^}]*\\})? ([0-9.eE+-]+|NaN)$`, "m").exec(text);
  return m ? Number(m[1]) : null;
}

export async function metricsText(url: string): Promise<string> {
  const res = await request(`${url}/metrics`, {
    dispatcher: clientAgent,
    signal: AbortSignal.timeout(5_000),
  });
  return res.body.text();
}

/** /health's status word, or null when it does not answer. */
export async function health(url: string): Promise<string | null> {
  try {
    const res = await request(`${url}/health`, {
      dispatcher: clientAgent,
      signal: AbortSignal.timeout(2_000),
    });
    return ((await res.body.json()) as { status?: string }).status ?? null;
  } catch {
    return null;
  }
}

export async function waitForHealth(url: string, words: string[], timeoutMs: number): Promise<string> {
  return waitFor(
    async () => {
      const h = await health(url);
      return h !== null && words.includes(h) ? h : null;
    },
    timeoutMs,
    `/health ${words.join("|")}`,
  );
}

/** Resident memory of a process in KiB, from /proc/<pid>/status (VmRSS). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/**
 * Opens a raw connection, sends a streaming request, waits for the first SSE data frame, then destroys the
 * socket: a client that goes away mid-stream. Resolves true when it saw a frame before leaving.
 */
export function disconnectMidStream(
  port: number,
  path: Route,
  body: string,
  timeoutMs = 15_000,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let seen = "";
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on("connect", () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    });
    socket.on("data", (d) => {
      seen += d.toString();
      if (seen.includes("\r\n\r\n") && /\r\n\r\n[\s\S]*data: /.test(seen)) done(true);
    });
    socket.on("error", () => done(false));
    socket.on("close", () => done(false));
  });
}

/** Runs `tasks` with at most `limit` at once. */
export async function pool<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return out;
}
