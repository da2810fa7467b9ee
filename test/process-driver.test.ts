import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { EngineHandle, EngineStartSpec, ListenAddress } from "../src/engine/engine-driver.js";
import { EngineStartError } from "../src/engine/engine-driver.js";
import { ProcessDriver } from "../src/engine/process-driver.js";
import { isAlive, waitForExit } from "../src/engine/process-group.js";
import { silentLogger } from "../src/log/logger.js";
import type { LifecycleEvent } from "../src/protocol/lifecycle.js";

const RUNTIME_DIR = resolve(import.meta.dirname, "../runtime");
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function tempHome(): string {
  const dir = mkdtempSync(join(tmpdir(), "llmr-proc-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function simArgs(extra: string[] = []) {
  return (listen: ListenAddress) => [
    "test-model",
    "--served-model-name",
    "test-model",
    "--host",
    listen.host,
    "--port",
    String(listen.port),
    "--max-model-len",
    "2048",
    "--max-num-seqs",
    "8",
    ...extra,
  ];
}

function spec(extra: string[] = [], env: Record<string, string> = { VLLM_API_KEY: "k-123" }) {
  const events: LifecycleEvent[] = [];
  const logs: string[] = [];
  const s: EngineStartSpec = {
    instanceId: `t${Math.random().toString(36).slice(2, 8)}`,
    engine: "sim",
    modelId: "test-model",
    buildArgs: simArgs(extra),
    env,
    onLog: (line) => logs.push(line),
    onEvent: (e) => events.push(e),
  };
  return { spec: s, events, logs };
}

function driver(home: string, python = "python3", port = 0) {
  return new ProcessDriver({ python, runtimeDir: RUNTIME_DIR, home, port, logger: silentLogger() });
}

async function startTracked(d: ProcessDriver, s: EngineStartSpec): Promise<EngineHandle> {
  const h = await d.start(s);
  cleanups.push(() => h.stop(0));
  return h;
}

async function waitUntil(cond: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * `--engine vllm` with a fake `vllm` (and `nvidia-smi`) on PATH: the fake starts a worker and waits, as vllm serve
 * does, in the session of its own the launcher gives it. `prelude`: shell lines run first (e.g. ignore SIGTERM).
 */
async function startFakeVllm(home: string, prelude: string) {
  const bin = join(home, "bin");
  mkdirSync(bin);
  const pids = join(home, "vllm.pids");
  const script = `#!/bin/sh\n${prelude}sleep 300 &\necho "$$ $!" > ${pids}\nwhile :; do sleep 0.1; done\n`;
  writeFileSync(join(bin, "vllm"), script, { mode: 0o755 });
  writeFileSync(join(bin, "nvidia-smi"), "#!/bin/sh\necho 'GPU 0: NVIDIA H100 (UUID: GPU-0)'\n", {
    mode: 0o755,
  });
  const d = new ProcessDriver({
    ...{ python: "python3", runtimeDir: RUNTIME_DIR, home, port: 0, logger: silentLogger() },
    baseEnv: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
  });
  const { spec: s } = spec();
  const h = await d.start({ ...s, engine: "vllm", buildArgs: () => ["org/model", "--port", "8123"] });
  cleanups.push(() => h.stop(0));
  await waitUntil(() => existsSync(pids) && readFileSync(pids, "utf8").includes(" "));
  const [vllm, worker] = readFileSync(pids, "utf8").trim().split(" ").map(Number) as [number, number];
  cleanups.push(() => {
    for (const p of [vllm, worker]) if (isAlive(p)) process.kill(p, "SIGKILL");
  });
  return { h, vllm, worker };
}

describe("ProcessDriver (real simulator processes)", () => {
  it("starts the runtime, relays lifecycle events and logs, serves with its key, and stops cleanly", async () => {
    const home = tempHome();
    const d = driver(home);
    const { spec: s, events } = spec();
    const h = await startTracked(d, s);
    expect(h.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await waitUntil(() => events.some((e) => e.event === "ready"));
    expect(events[0]?.event).toBe("starting");
    expect(readdirSync(join(home, "engines"))).toEqual([`${s.instanceId}.json`]);

    const health = await request(`${h.baseUrl}/health`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
    const noKey = await request(`${h.baseUrl}/v1/models`);
    expect(noKey.statusCode).toBe(401);
    await noKey.body.dump();
    const withKey = await request(`${h.baseUrl}/v1/models`, { headers: { authorization: "Bearer k-123" } });
    expect(withKey.statusCode).toBe(200);
    expect(JSON.stringify(await withKey.body.json())).toContain("test-model");

    const pid = Number(h.id);
    const started = Date.now();
    await h.stop(5_000);
    expect(Date.now() - started).toBeLessThan(5_000); // SIGTERM is honoured, no kill needed
    expect(isAlive(pid)).toBe(false);
    expect(await h.exited).toMatchObject({ code: 0 });
    expect(readdirSync(join(home, "engines"))).toEqual([]);
  });

  // vLLM's --shutdown-timeout drain (vllm-project/vllm#36666) lasts while the first SIGTERM is honoured; a second
  // one would cut it short, so a later stop never signals again and only brings the SIGKILL forward.
  it("drains a stream inside the engine on stop, signals SIGTERM once, and a stop(0) kills at once", async () => {
    const d = driver(tempHome());
    const { spec: s, events, logs } = spec(["--sim-itl-ms", "200", "--shutdown-timeout", "30"]);
    const h = await startTracked(d, s);
    await waitUntil(() => events.some((e) => e.event === "ready"));
    const res = await request(`${h.baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer k-123", "content-type": "application/json" },
      body: JSON.stringify({
        model: "test-model",
        stream: true,
        messages: [{ role: "user", content: "a b c d e f" }],
      }),
    });
    expect(res.statusCode).toBe(200);
    const body = res.body.text();
    const stopping = h.stop(30_000);
    await waitUntil(() => logs.some((l) => l.includes("refusing new requests")));
    void h.stop(20_000); // a later, longer stop: no second SIGTERM
    expect(await body).toContain("data: [DONE]");
    await stopping;
    expect(await h.exited).toMatchObject({ code: 0 });
    expect(logs.filter((l) => l.includes("refusing new requests"))).toHaveLength(1);

    const { spec: s2, events: events2 } = spec(["--sim-itl-ms", "200", "--shutdown-timeout", "30"]);
    const h2 = await startTracked(d, s2);
    await waitUntil(() => events2.some((e) => e.event === "ready"));
    const res2 = await request(`${h2.baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer k-123", "content-type": "application/json" },
      body: JSON.stringify({
        model: "test-model",
        stream: true,
        messages: [{ role: "user", content: "a b c d e f" }],
      }),
    });
    const drained = h2.stop(30_000);
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    await h2.stop(0);
    await drained;
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await h2.exited).toEqual({ code: null, signal: "SIGKILL" });
    await res2.body.text().catch(() => "");
  });

  it("reports a fatal start with its reason and a non-zero exit", async () => {
    const d = driver(tempHome());
    const { spec: s, events } = spec(["--sim-fail-start", "cuda_oom", "--sim-load-seconds", "0.3"]);
    const h = await startTracked(d, s);
    const exit = await h.exited;
    expect(exit.code).not.toBe(0);
    const fatal = events.find((e) => e.event === "fatal");
    expect(fatal).toMatchObject({ event: "fatal", reason: "cuda_oom" });
    expect(events.some((e) => e.event === "loading")).toBe(true);
  });

  it("notices an engine killed from outside", async () => {
    const d = driver(tempHome());
    const { spec: s, events } = spec();
    const h = await startTracked(d, s);
    await waitUntil(() => events.some((e) => e.event === "ready"));
    expect(await h.running()).toBe(true);
    process.kill(Number(h.id), "SIGKILL");
    expect(await h.exited).toEqual({ code: null, signal: "SIGKILL" });
    expect(await h.running()).toBe(false);
  });

  it("finds and kills an engine left behind by a previous supervisor (pid file)", async () => {
    const home = tempHome();
    const first = driver(home);
    const { spec: s, events } = spec();
    const h = await first.start(s);
    cleanups.push(() => h.stop(0));
    await waitUntil(() => events.some((e) => e.event === "ready"));
    const pid = Number(h.id);

    const second = driver(home);
    expect(await second.removeOrphans()).toEqual([String(pid)]);
    expect(await waitForExit(pid, 5_000)).toBe(true);
    expect(readdirSync(join(home, "engines"))).toEqual([]);
    expect(await second.removeOrphans()).toEqual([]);
  });

  it("removing a left-behind vLLM engine also ends vllm serve's own session (and its workers)", async () => {
    const home = tempHome();
    const { h, vllm, worker } = await startFakeVllm(home, "");
    expect(await driver(home).removeOrphans()).toEqual([h.id]);
    for (const p of [Number(h.id), vllm, worker]) expect(await waitForExit(p, 5_000), `pid ${p}`).toBe(true);
  });

  it("a stop that runs out of grace kills vllm serve's own session too, not only the launcher", async () => {
    const { h, vllm, worker } = await startFakeVllm(tempHome(), "trap '' TERM\n");
    await h.stop(500);
    for (const p of [Number(h.id), vllm, worker]) expect(await waitForExit(p, 5_000), `pid ${p}`).toBe(true);
  });

  it("fails with a clear error when python is missing", async () => {
    const d = driver(tempHome(), "/nonexistent/python3");
    const err = await d.start(spec().spec).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineStartError);
    expect((err as Error).message).toContain("'/nonexistent/python3' was not found");
    expect((err as EngineStartError).hint).toContain("PYTHON");
  });

  it("fails with a clear error when ENGINE_PORT is taken", async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
    const port = (srv.address() as { port: number }).port;
    const err = await driver(tempHome(), "python3", port)
      .start(spec().spec)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineStartError);
    expect((err as Error).message).toContain(`port ${port}`);
    expect((err as EngineStartError).hint).toContain("ENGINE_PORT");
  });

  it("never puts the API key on the command line", async () => {
    const d = driver(tempHome());
    const { spec: s, events } = spec([], { VLLM_API_KEY: "secret-key-xyz" });
    const h = await startTracked(d, s);
    await waitUntil(() => events.some((e) => e.event === "ready"));
    const { readFileSync } = await import("node:fs");
    const cmdline = readFileSync(`/proc/${h.id}/cmdline`, "utf8");
    expect(cmdline).toContain("llm_runtime");
    expect(cmdline).not.toContain("secret-key-xyz");
  });
});
