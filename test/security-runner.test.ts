import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, runCli } from "./helpers/cli.js";
import {
  call,
  chatBody,
  clientAgent,
  metric,
  type Runner,
  startRunner,
  stopAllRunners,
  TOKEN,
  words,
} from "./helpers/load.js";
import { rawHttp } from "./helpers/raw-http.js";

// Auth covers every route that spends GPU time; the engine listens on 127.0.0.1 only and wants its own key;
// no secret shows up in logs, CLI output, error bodies, files or any process's command line.

const HF_TOKEN = "hf_SECRETxyzHuggingFaceToken0123456789";
let runner: Runner;
let engine: { pid: number; port: number; key: string };
const bodiesSeen: string[] = [];

function cmdline(pid: number | string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return ""; // exited meanwhile, or not ours to read
  }
}

beforeAll(async () => {
  assertBuilt();
  runner = await startRunner({ HF_TOKEN, LOG_LEVEL: "debug", SIM_ITL_MS: "1" });
  const pid = (await runner.enginePid()) as number;
  const args = cmdline(pid).split(" ");
  const port = Number(args[args.indexOf("--port") + 1]);
  const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
  const key = environ.find((e) => e.startsWith("VLLM_API_KEY="))?.slice("VLLM_API_KEY=".length) ?? "";
  expect(key.length).toBeGreaterThanOrEqual(16);
  engine = { pid, port, key };
}, 60_000);
afterAll(async () => {
  await stopAllRunners();
});

/** The engine's own counters of work done (read directly: its /metrics needs no key, like vLLM's). */
async function engineWork(): Promise<number> {
  const res = await request(`http://127.0.0.1:${engine.port}/metrics`, { dispatcher: clientAgent });
  const text = await res.body.text();
  return (
    (metric(text, "vllm:prompt_tokens_total") ?? NaN) +
    (metric(text, "vllm:e2e_request_latency_seconds_count") ?? NaN)
  );
}

function raw(data: string, port = runner.port): Promise<string> {
  return rawHttp(port, data, (out) => /\r\n\r\n/.test(out), 200);
}

describe("security of a running runner (AUTH_TOKEN and HF_TOKEN set)", () => {
  it("no route that spends GPU time answers without the right token, and none reaches the engine", {
    timeout: 60_000,
  }, async () => {
    const before = await engineWork();
    const body = chatBody("/llm", words(5), 4, false);
    const v1 = chatBody("/v1/chat/completions", words(5), 4, false);
    const routes: Array<[string, string, string]> = [
      ["POST", "/llm", body],
      ["POST", "/llm/", body],
      ["POST", "//llm", body],
      ["POST", "/LLM", body],
      ["POST", "/llm?stream=true", body],
      ["POST", "/%6clm", body],
      ["POST", "/./llm", body],
      ["POST", "/llm/../llm", body],
      ["POST", "/v1/chat/completions", v1],
      ["POST", "/v1/chat/completions/", v1],
      ["POST", "/v1//chat/completions", v1],
      ["POST", "/V1/chat/completions", v1],
      ["POST", "/v1/completions", JSON.stringify({ prompt: "hi", max_tokens: 3 })],
      ["POST", "/v1/embeddings", JSON.stringify({ input: "hi" })],
      ["POST", "/tokenize", JSON.stringify({ prompt: "hi" })],
      ["GET", "/v1/models", ""],
      ["GET", "/v1/models/", ""],
      ["GET", "/llm", ""],
      ["PUT", "/llm", body],
      ["PATCH", "/v1/chat/completions", v1],
      ["DELETE", "/v1/models", ""],
    ];
    const credentials: Array<[string, Record<string, string>]> = [
      ["none", {}],
      ["wrong token", { authorization: "Bearer not-the-token" }],
      ["empty bearer", { authorization: "Bearer " }],
      ["basic", { authorization: `Basic ${Buffer.from(`user:${TOKEN}`).toString("base64")}` }],
      ["token with a suffix", { authorization: `Bearer ${TOKEN}x` }],
      ["token prefix", { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
      ["x-api-key", { "x-api-key": TOKEN }],
      ["the engine's key", { authorization: `Bearer ${engine.key}` }],
    ];
    const answered: string[] = [];
    for (const [method, path, payload] of routes) {
      for (const [what, headers] of credentials) {
        const head = Object.entries({ "content-type": "application/json", ...headers })
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join("");
        const res = await raw(
          `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${head}Content-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
        );
        bodiesSeen.push(res);
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(res)?.[1] ?? 0);
        if (status === 0 || (status >= 200 && status < 300))
          answered.push(`${method} ${path} (${what}) → ${res.slice(0, 200)}`);
        if (status === 401) expect(res.toLowerCase()).toContain("www-authenticate: bearer");
      }
    }
    expect(answered, "requests answered without the right token").toEqual([]);
    expect(await engineWork(), "the engine did work for unauthenticated requests").toBe(before);
    // The same requests with the token do reach the engine (the check above can see it).
    const ok = await call(runner.url, "/llm", body);
    expect(ok.status).toBe(200);
    expect(await engineWork()).toBeGreaterThan(before);
  });

  it("the engine listens on 127.0.0.1 only and refuses requests without its random key", {
    timeout: 30_000,
  }, async () => {
    const args = cmdline(engine.pid);
    expect(args).toMatch(/--host 127\.0\.0\.1 /);
    expect(args).not.toContain(engine.key); // the key travels in the environment, not argv
    // The kernel's view: the listening socket is bound to 127.0.0.1 (0100007F), on no other address.
    const hexPort = engine.port.toString(16).toUpperCase().padStart(4, "0");
    const listening = ["/proc/net/tcp", "/proc/net/tcp6"]
      .flatMap((f) => readFileSync(f, "utf8").split("\n").slice(1))
      .map((l) => l.trim().split(/\s+/))
      .filter((cols) => cols[1]?.endsWith(`:${hexPort}`) && cols[3] === "0A")
      .map((cols) => cols[1]);
    expect(listening).toEqual([`0100007F:${hexPort}`]);

    const base = `http://127.0.0.1:${engine.port}`;
    const attempt = async (path: string, auth: string | null, method: "GET" | "POST") => {
      const res = await request(`${base}${path}`, {
        method,
        headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}) },
        body: method === "POST" ? chatBody("/v1/chat/completions", "hi", 3, false) : null,
        dispatcher: clientAgent,
      });
      const text = await res.body.text();
      bodiesSeen.push(text);
      return res.statusCode;
    };
    for (const [path, method] of [
      ["/v1/chat/completions", "POST"],
      ["/v1/completions", "POST"],
      ["/v1/models", "GET"],
      ["/tokenize", "POST"],
    ] as const) {
      expect(await attempt(path, null, method), `${method} ${path} without a key`).toBe(401);
      expect(
        await attempt(path, `Bearer ${TOKEN}`, method),
        `${method} ${path} with the gateway's token`,
      ).toBe(401);
      expect(await attempt(path, `Bearer ${engine.key}x`, method), `${method} ${path} with a near key`).toBe(
        401,
      );
    }
    expect(
      await attempt("/v1/models", `Bearer ${engine.key}`, "GET"),
      "the real key works (the check can pass)",
    ).toBe(200);
  });

  it("secrets never appear in logs, files, CLI output, error bodies, /metrics or any command line", {
    timeout: 60_000,
  }, async () => {
    // Provoke errors first, so their messages are in the logs and bodies scanned below.
    for (const b of [
      "{",
      JSON.stringify({ messages: "x" }),
      JSON.stringify({ messages: [{ role: "user", content: "x" }], model: "other" }),
    ]) {
      bodiesSeen.push(
        (await call(runner.url, "/llm", b)).text,
        (await call(runner.url, "/v1/chat/completions", b)).text,
      );
    }
    const secrets = { AUTH_TOKEN: TOKEN, HF_TOKEN, "the engine key": engine.key };
    const sources: Array<[string, string]> = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else sources.push([p, readFileSync(p).toString("latin1")]);
      }
    };
    walk(runner.home);
    for (const args of [
      ["status"],
      ["status", "--json"],
      ["flags"],
      ["flags", "--json"],
      ["logs"],
      ["logs", "--engine"],
      ["usage", "--json"],
      ["check"],
    ]) {
      const res = await runCli(args, runner.env);
      sources.push([`llm-runner ${args.join(" ")}`, res.stdout + res.stderr]);
    }
    sources.push([
      "/metrics",
      await (await request(`${runner.url}/metrics`, { dispatcher: clientAgent })).body.text(),
    ]);
    sources.push(["error bodies", bodiesSeen.join("\n")]);
    for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d)))
      sources.push([`/proc/${pid}/cmdline`, cmdline(pid)]);
    expect(sources.some(([name]) => name.endsWith("runner.log"))).toBe(true);
    expect(sources.some(([name]) => name.endsWith("engine.log"))).toBe(true);
    const leaks: string[] = [];
    for (const [name, text] of sources) {
      for (const [what, secret] of Object.entries(secrets)) {
        if (text.includes(secret)) leaks.push(`${what} in ${name}`);
      }
    }
    expect(leaks).toEqual([]);
  });
});
