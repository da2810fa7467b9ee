import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { isAlive, waitForExit } from "../src/engine/process-group.js";
import { assertBuilt, runCli, spawnCli, waitFor } from "./helpers/cli.js";
import {
  call,
  chatBody,
  endedInError,
  health,
  type Route,
  startRunner,
  stopAllRunners,
  streamProblem,
  waitForHealth,
  words,
} from "./helpers/load.js";

// Engine faults with 200 streams in flight: every client's stream ends well-formed and in bounded time, the
// supervisor restarts the engine, and new requests succeed.

const STREAMS = 200;
const CLIENT_TIMEOUT_MS = 25_000;
const ROUTES: Route[] = ["/llm", "/v1/chat/completions"];

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllRunners();
});

/** 200 concurrent streams, half /llm and half /v1, each a `tokens`-token echo. */
async function burst(url: string, tokens: number) {
  return Promise.all(
    Array.from({ length: STREAMS }, async (_, i) => {
      const route = ROUTES[i % 2] as Route;
      const result = await call(url, route, chatBody(route, words(tokens, i), tokens + 10, true), {
        timeoutMs: CLIENT_TIMEOUT_MS,
      });
      return { route, result };
    }),
  );
}

function summarize(results: Awaited<ReturnType<typeof burst>>) {
  const problems = results
    .map(({ route, result }) => ({ route, problem: streamProblem(route, result) }))
    .filter((p) => p.problem !== null);
  const errored = results.filter(
    ({ route, result }) => streamProblem(route, result) === null && endedInError(route, result),
  );
  return { problems, errored: errored.length, completed: results.length - errored.length - problems.length };
}

async function expectServing(url: string) {
  for (const route of ROUTES) {
    for (const stream of [false, true]) {
      const r = await call(url, route, chatBody(route, words(5), 8, stream), { timeoutMs: 10_000 });
      expect(r.status, `${route} stream=${stream} after the restart: ${r.text.slice(0, 300)}`).toBe(200);
      if (stream) expect(streamProblem(route, r)).toBeNull();
    }
  }
}

describe("engine faults under load (200 concurrent streams)", () => {
  it("the engine crashes mid-load: every stream ends well-formed, the engine restarts, new requests succeed", {
    timeout: 90_000,
  }, async () => {
    const runner = await startRunner({
      SIM_CRASH_AFTER: "120",
      SIM_ITL_MS: "40",
      MAX_NUM_SEQS: "256",
      QUEUE_SIZE: "64",
    });
    const before = await runner.enginePid();
    const results = await burst(runner.url, 60);
    const { problems, errored, completed } = summarize(results);
    console.log(
      `crash: ${STREAMS} streams → ${completed} completed, ${errored} ended with the error ending, ${problems.length} malformed`,
    );
    expect(problems, JSON.stringify(problems.slice(0, 5), null, 2)).toEqual([]);
    expect(errored, "the crash must have cut streams in flight").toBeGreaterThan(0);
    // The crash cut live streams, so the error endings came from streams that were already open.
    const cutMidStream = results.filter(
      ({ route, result }) => result.status === 200 && endedInError(route, result),
    );
    expect(cutMidStream.length).toBeGreaterThan(0);

    await waitForHealth(runner.url, ["IDLE", "OK"], 30_000);
    const status = await runner.status();
    expect(Number(status.restarts)).toBeGreaterThanOrEqual(1);
    expect(before !== null && (await waitForExit(before, 5_000))).toBe(true);
    expect(await runner.enginePid()).not.toBe(before);
    await expectServing(runner.url);
  });

  it("the engine hangs: detected within ENGINE_HANG_TIMEOUT, streams terminated, engine restarted", {
    timeout: 90_000,
  }, async () => {
    const hangTimeoutS = 2;
    const runner = await startRunner({
      SIM_HANG_AFTER: "100",
      SIM_ITL_MS: "5",
      ENGINE_HANG_TIMEOUT: String(hangTimeoutS),
      MAX_NUM_SEQS: "256",
      QUEUE_SIZE: "64",
    });
    const before = await runner.enginePid();
    const started = Date.now();
    const results = await burst(runner.url, 20);
    const { problems, errored, completed } = summarize(results);
    const slowest = Math.max(...results.map((r) => r.result.ms));
    console.log(
      `hang: ${completed} completed, ${errored} terminated with the error ending, slowest client ${slowest} ms`,
    );
    expect(problems, JSON.stringify(problems.slice(0, 5), null, 2)).toEqual([]);
    expect(errored, "the hung requests (101..200) must be terminated").toBeGreaterThanOrEqual(STREAMS - 100);
    // The healthy requests finish in well under a second; the hung ones must end within the hang timeout plus
    // the watchdog's granularity (a quarter of the timeout) and some scheduling slack on 2 cores.
    expect(Date.now() - started).toBeLessThan(hangTimeoutS * 1000 + 4_000);

    // The hung engine is stopped after its streams are cut; wait for the restart, then for the new engine.
    const status = await waitFor(
      async () => {
        const s = await runner.status();
        return Number(s.restarts) >= 1 ? s : null;
      },
      15_000,
      "the supervisor to restart the hung engine",
    );
    expect((status.lastError as { reason?: string } | null)?.reason).toBe("hang");
    await waitForHealth(runner.url, ["IDLE", "OK"], 30_000);
    expect(before !== null && (await waitForExit(before, 5_000))).toBe(true);
    await expectServing(runner.url);
  });

  it("the engine fails to start: /health says ERROR and `llm-runner status` shows the reason", {
    timeout: 60_000,
  }, async () => {
    // Foreground start: a failed engine keeps the gateway up (answering ERROR), as the orchestrator expects.
    const runner = await startRunner(
      { SIM_FAIL_START: "cuda_oom", SIM_LOAD_SECONDS: "0.3" },
      { launch: false },
    );
    const child = spawnCli(["start"], runner.env);
    try {
      await waitFor(async () => (await health(runner.url)) === "ERROR", 30_000, "/health ERROR");
      const res = await call(runner.url, "/llm", chatBody("/llm", "hi", 4, false));
      expect(res.status).toBe(500);
      expect(res.text).toContain("cuda_oom");
      const human = await runCli(["status"], runner.env);
      expect(human.code, human.stderr).toBe(0);
      expect(human.stdout).toMatch(/state\s+failed \(\/health ERROR\)/);
      expect(human.stdout).toMatch(/last error\s+cuda_oom: /);
      expect(human.stdout).toMatch(/fix\s+\S/);
      const json = JSON.parse((await runCli(["status", "--json"], runner.env)).stdout) as {
        health: string;
        lastError: { reason: string; message: string } | null;
      };
      expect(json.health).toBe("ERROR");
      expect(json.lastError?.reason).toBe("cuda_oom");
      expect(json.lastError?.message).not.toBe("");
    } finally {
      child.kill("SIGINT");
      const exited = await waitFor(
        () => child.exitCode !== null || null,
        20_000,
        "the foreground runner to exit",
      ).catch(() => false);
      if (!exited && child.pid && isAlive(child.pid)) child.kill("SIGKILL");
    }
  });
});
