import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, cliEnv, runCli } from "./helpers/cli.js";
import {
  call,
  chatBody,
  clientAgent,
  type Runner,
  startRunner,
  stopAllRunners,
  TOKEN,
} from "./helpers/load.js";
import { startGatewayOn } from "./helpers/static-supervisor.js";

// Through the built CLI and a real server: the runner's files are the operator's alone,
// an env-file error never shows a secret, METRICS_AUTH puts /metrics behind the token, and a flood of
// /metrics scrapes costs the engine one request per short while.

let home: string;
let runner: Runner;

beforeAll(async () => {
  assertBuilt();
  // A home that already existed, open to everyone, with files an older version (umask 022) left 0644.
  home = mkdtempSync(join(tmpdir(), "llmr-files-"));
  chmodSync(home, 0o755);
  mkdirSync(join(home, "engines"), { mode: 0o755 });
  chmodSync(join(home, "engines"), 0o755);
  for (const [name, text] of [
    ["ledger.sqlite", ""],
    ["engine.log", "old engine output\n"],
    ["runner.log", "old runner output\n"],
    ["engines/old-instance.json", '{"pid":999999999}\n'],
    ["notes.txt", "the operator's own file\n"],
  ]) {
    writeFileSync(join(home, name as string), text as string);
    chmodSync(join(home, name as string), 0o644);
  }
  runner = await startRunner({ METRICS_AUTH: "true", SIM_ITL_MS: "1" }, { home });
  // A request, so the ledger has a row and its -wal/-shm files exist.
  expect((await call(runner.url, "/llm", chatBody("/llm", "hello", 4, false))).status).toBe(200);
}, 120_000);
afterAll(async () => {
  await stopAllRunners();
  if (home) rmSync(home, { recursive: true, force: true });
});

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8);
}

describe("LLM_RUNNER_HOME", () => {
  it("keeps every file of the runner 0600 and engines/ 0700, and leaves other files alone", () => {
    const files = [
      ...readdirSync(home).filter((f) => statSync(join(home, f)).isFile()),
      ...readdirSync(join(home, "engines")).map((f) => `engines/${f}`),
    ];
    for (const f of ["ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm", "engine.log", "runner.log"])
      expect(files).toContain(f);
    expect(files.filter((f) => f.startsWith("engines/")).length).toBeGreaterThanOrEqual(1); // this engine's pid file
    const loose = files
      .filter((f) => f !== "notes.txt")
      .map((f) => `${f} ${mode(join(home, f))}`)
      .filter((line) => !line.endsWith(" 600"));
    expect(loose, "runner files readable by other users").toEqual([]);
    expect(mode(join(home, "engines"))).toBe("700");
    expect(mode(join(home, "notes.txt"))).toBe("644");
  });

  it("warns, with the fix, that the home folder itself is open to other users", () => {
    const log = readFileSync(join(home, "runner.log"), "utf8");
    expect(log).toContain(`LLM_RUNNER_HOME (${home}) is open to other users (mode 755)`);
    expect(log).toContain(`chmod 700 ${home}`);
    expect(mode(home)).toBe("755"); // the operator's folder: said, not changed
  });
});

describe("an env file with a bad line", () => {
  it("names the file and line but never prints a secret's value", async () => {
    const secret = "s3cret-gateway-token-0123456789";
    const dir = mkdtempSync(join(tmpdir(), "llmr-envfile-"));
    try {
      const file = join(dir, "runner.env");
      writeFileSync(file, `ENGINE=sim\nAUTH_TOKEN: ${secret}\n`);
      for (const command of [["check"], ["flags"], ["start"]]) {
        const res = await runCli([...command, "--env-file", file], cliEnv(dir));
        const out = res.stdout + res.stderr;
        expect(res.code, out).not.toBe(0);
        expect(out).toContain(`${file}:2: the line for AUTH_TOKEN is not a NAME=value line`);
        expect(out).not.toContain(secret);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("METRICS_AUTH", () => {
  it("makes /metrics ask for the bearer AUTH_TOKEN (401 as on /llm), and serves it with the token", async () => {
    const anonymous = await request(`${runner.url}/metrics`, { dispatcher: clientAgent });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers["www-authenticate"]).toBe("Bearer");
    expect(((await anonymous.body.json()) as { detail: { msg: string } }).detail.msg).toContain("AUTH_TOKEN");
    const wrong = await request(`${runner.url}/metrics`, {
      dispatcher: clientAgent,
      headers: { authorization: "Bearer nope" },
    });
    expect(wrong.statusCode).toBe(401);
    await wrong.body.dump();
    const scraped = await request(`${runner.url}/metrics`, {
      dispatcher: clientAgent,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(scraped.statusCode).toBe(200);
    expect(await scraped.body.text()).toContain("llm_runner_");
    // The other public routes stay public.
    const health = await request(`${runner.url}/health`, { dispatcher: clientAgent });
    expect(health.statusCode).toBe(200);
    await health.body.dump();
  });

  it("is refused at start without AUTH_TOKEN, saying how to fix it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "llmr-metrics-auth-"));
    try {
      const res = await runCli(
        ["start"],
        cliEnv(dir, { ENGINE: "sim", DRIVER: "process", METRICS_AUTH: "true" }),
      );
      expect(res.code).toBe(2);
      expect(res.stderr).toContain("METRICS_AUTH");
      expect(res.stderr).toContain("AUTH_TOKEN is not set");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("/metrics and the engine", () => {
  it("a flood of scrapes costs the engine one /metrics request per 2 s, and the series stay fresh after", async () => {
    let engineScrapes = 0;
    const engine = createServer((req, res) => {
      if (req.url === "/metrics") engineScrapes++;
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`vllm:num_requests_running ${engineScrapes}\n`);
    });
    await new Promise<void>((r) => engine.listen(0, "127.0.0.1", () => r()));
    const port = (engine.address() as { port: number }).port;
    await using gateway = await startGatewayOn({
      baseUrl: `http://127.0.0.1:${port}`,
      apiKey: "k",
      generation: 1,
    });
    try {
      const scrape = async () => {
        const res = await request(`${gateway.url}/metrics`, { dispatcher: clientAgent });
        return res.body.text();
      };
      const texts = await Promise.all(Array.from({ length: 50 }, scrape));
      for (let i = 0; i < 20; i++) texts.push(await scrape());
      expect(engineScrapes, "engine /metrics requests for 70 scrapes within the cache time").toBe(1);
      expect(texts.every((t) => t.includes("vllm:num_requests_running 1\n"))).toBe(true);
      await new Promise((r) => setTimeout(r, 2_100));
      expect(await scrape()).toContain("vllm:num_requests_running 2\n");
      expect(engineScrapes).toBe(2);
    } finally {
      await new Promise<void>((r) => engine.close(() => r()));
    }
  });
});
