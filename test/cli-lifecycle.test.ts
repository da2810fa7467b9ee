import { readFileSync } from "node:fs";
import { join } from "node:path";
import { request } from "undici";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { isAlive, waitForExit } from "../src/engine/process-group.js";
import { assertBuilt, cliEnv, freePort, runCli, spawnCli, tempHome, waitFor } from "./helpers/cli.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
beforeAll(() => assertBuilt());

async function simEnv(extra: Record<string, string> = {}) {
  const { home, cleanup } = tempHome();
  const port = await freePort();
  const env = cliEnv(home, {
    ENGINE: "sim",
    DRIVER: "process",
    HOST: "127.0.0.1",
    PORT: String(port),
    ENGINE_PORT: "0",
    AUTH_TOKEN: "test-token",
    MAX_MODEL_LEN: "4096",
    MAX_NUM_BATCHED_TOKENS: "4096",
    ...extra,
  });
  cleanups.push(async () => {
    await runCli(["stop", "--force", "--timeout", "20"], env);
    cleanup();
  });
  return { home, port, env, url: `http://127.0.0.1:${port}` };
}

async function statusJson(env: NodeJS.ProcessEnv) {
  const res = await runCli(["status", "--json"], env);
  return { code: res.code, body: JSON.parse(res.stdout || "{}") as Record<string, unknown> };
}

async function llm(url: string, token: string | null, body: object) {
  const res = await request(`${url}/llm`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return {
    status: res.statusCode,
    headers: res.headers,
    body: (await res.body.json()) as Record<string, unknown>,
  };
}

describe("llm-runner CLI, end to end (built binary, simulator engine, process driver)", () => {
  it("start --detach → status → a paid request → usage → stop → not running, nothing left", async () => {
    const { env, url, port } = await simEnv({ SIM_LOAD_SECONDS: "1.2" });
    const started = await runCli(["start", "--detach"], env);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toContain(`ready: http://`);
    expect(started.stdout).toContain(`:${port}`);
    expect(started.stderr).toMatch(/loading \[#*\.*\] +\d+%/); // plain progress lines (not a TTY)

    const status = await statusJson(env);
    expect(status.code).toBe(0);
    expect(status.body).toMatchObject({
      running: true,
      state: "ready",
      health: "IDLE",
      engine: "sim",
      driver: "process",
    });
    const enginePid = Number(status.body.engineId);
    expect(isAlive(enginePid)).toBe(true);

    const denied = await llm(url, null, { messages: [{ role: "user", content: "hi" }] });
    expect(denied.status).toBe(401);
    const ok = await llm(url, "test-token", {
      messages: [{ role: "user", content: "hello paid world" }],
      max_tokens: 8,
    });
    expect(ok.status).toBe(200);
    expect(ok.headers["x-llm-price-quote"]).toBeDefined();

    const usage = await runCli(["usage", "--json"], env);
    expect(usage.code, usage.stderr).toBe(0);
    expect(usage.stdout).toContain('"requests": 1');

    const human = await runCli(["status"], env);
    expect(human.stdout).toMatch(/state\s+ready/);
    expect(human.stdout).not.toContain("test-token");

    const stopped = await runCli(["stop"], env);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(isAlive(enginePid)).toBe(false);
    const after = await runCli(["status"], env);
    expect(after.code).toBe(3);
    expect(after.stderr).toContain("not running");
  });

  // vLLM >= 0.18 drains on SIGTERM for --shutdown-timeout (vllm-project/vllm#36666); the runner passes
  // it (DRAIN_TIMEOUT + 1 s) and signals the engine as its own drain begins, so the engine finishes the stream too.
  it("stop with a stream in flight: the engine drains it to the end, then exits, and the client gets it all", async () => {
    const { env, url, home } = await simEnv({ SIM_ITL_MS: "100", DRAIN_TIMEOUT: "20" });
    const started = await runCli(["start", "--detach"], env);
    expect(started.code, started.stderr).toBe(0);
    const res = await request(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer test-token" },
      body: JSON.stringify({
        model: "meta-llama/Meta-Llama-3.1-8B-Instruct",
        stream: true,
        max_tokens: 30,
        messages: [
          { role: "user", content: "one two three four five six seven eight nine ten eleven twelve" },
        ],
      }),
    });
    expect(res.statusCode).toBe(200);
    const body = res.body.text();
    await new Promise((r) => setTimeout(r, 300));
    const stopped = await runCli(["stop"], env);
    expect(stopped.code, stopped.stderr).toBe(0);
    const text = await body;
    expect(text).toContain("data: [DONE]");
    expect(text).toContain("twelve");
    const engineLog = readFileSync(join(home, "engine.log"), "utf8");
    expect(engineLog).toContain("refusing new requests, finishing 1 in-flight request(s) for up to 21 s");
    expect(engineLog).toContain("every in-flight request finished");
  });

  it("an engine that outlived a kill -9 of its runner (frozen, so it could not notice) is removed by the next start", async () => {
    const { env, home } = await simEnv();
    expect((await runCli(["start", "--detach"], env)).code).toBe(0);
    const first = await statusJson(env);
    const runnerPid = Number(first.body.pid);
    const enginePid = Number(first.body.engineId);
    // A running engine stops itself once its runner is gone (test/runner-kill-engines.test.ts); a frozen one cannot.
    process.kill(enginePid, "SIGSTOP");
    process.kill(runnerPid, "SIGKILL");
    await waitForExit(runnerPid, 5_000);
    expect(isAlive(enginePid)).toBe(true);

    const again = await runCli(["start", "--detach"], env);
    expect(again.code, again.stderr).toBe(0);
    expect(await waitForExit(enginePid, 5_000)).toBe(true);
    const log = readFileSync(join(home, "runner.log"), "utf8");
    expect(log).toContain("orphaned engine");
    expect((await runCli(["stop"], env)).code).toBe(0);
  });

  it("foreground start shows the URL, and Ctrl-C drains and stops", async () => {
    const { env, url } = await simEnv();
    const child = spawnCli(["start"], env);
    cleanups.push(() => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    await waitFor(() => child.output().includes("llm-runner is ready"), 30_000, "the ready line");
    expect(child.output()).toContain(url);
    const status = await statusJson(env);
    const enginePid = Number(status.body.engineId);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(isAlive(enginePid)).toBe(false);
    expect(child.output()).toContain("draining");
  });

  it("a fatal engine start: --detach fails with the reason and the fix, and leaves nothing running", async () => {
    const { env } = await simEnv({ SIM_FAIL_START: "cuda_oom", SIM_LOAD_SECONDS: "0.5" });
    const res = await runCli(["start", "--detach"], env);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("cuda_oom");
    expect(res.stderr).toContain("fix:");
    expect((await runCli(["status"], env)).code).toBe(3);
  });

  it("ENGINE_CRASH_LOOP_LIMIT=1: the first crash ends in failed (crash_loop), with no restart", async () => {
    const { env, url } = await simEnv({ ENGINE_CRASH_LOOP_LIMIT: "1", SIM_CRASH_AFTER: "1" });
    expect((await runCli(["start", "--detach"], env)).code).toBe(0);
    await llm(url, "test-token", { messages: [{ role: "user", content: "crash now" }], max_tokens: 8 });
    const failed = await waitFor(
      async () => {
        const { body } = await statusJson(env);
        return body.state === "failed" ? body : null;
      },
      15_000,
      "the runner to give up",
    );
    expect(failed.restarts).toBe(0);
    expect((failed.lastError as { reason: string; message: string }).reason).toBe("crash_loop");
    expect((failed.lastError as { message: string }).message).toContain("the engine failed 1 times in a row");
  });

  it("a bad config: every problem at once, exit 2, nothing started", async () => {
    const { env } = await simEnv({
      TENSOR_PARALLEL_SIZE: "zero",
      GPU_MEMORY_UTILIZATION: "1.5",
      USE_8BIT: "yes",
    });
    const res = await runCli(["start"], env);
    expect(res.code).toBe(2);
    for (const v of ["TENSOR_PARALLEL_SIZE", "GPU_MEMORY_UTILIZATION", "USE_8BIT"])
      expect(res.stderr).toContain(v);
    expect((await runCli(["status"], env)).code).toBe(3);
  });

  it("unknown flags and commands are usage errors (exit 2) with the usage", async () => {
    const { env } = await simEnv();
    const flag = await runCli(["start", "--bogus"], env);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("--bogus");
    expect(flag.stderr).toContain("Usage: llm-runner start");
    const cmd = await runCli(["launch"], env);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toContain("unknown command 'launch'");
    const stop = await runCli(["stop", "--timeout", "soon"], env);
    expect(stop.code).toBe(2);
  });
});
