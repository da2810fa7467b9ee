// GATEWAY_WORKERS=2 through the built CLI: two HTTP worker processes share the port while the runner's own
// process owns the engine and the one admission. What must hold: never more than the engine's
// capacity in flight (MAX_NUM_SEQS running + QUEUE_SIZE waiting) however the connections are spread, one ledger,
// merged /metrics, and no process left behind when a worker dies, the runner stops, or the runner is killed -9.
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, runCli, waitFor } from "./helpers/cli.js";
import {
  type ClientResult,
  call,
  chatBody,
  metric,
  metricsText,
  sseData,
  startRunner,
  stopAllRunners,
  words,
} from "./helpers/load.js";
import { replacedWorkers, workerPids } from "./helpers/workers.js";

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllRunners();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const CAPACITY = { MAX_NUM_SEQS: "4", QUEUE_SIZE: "4" };
const stream = (maxTokens: number) =>
  chatBody("/v1/chat/completions", "count with me please", maxTokens, true);

describe("GATEWAY_WORKERS=2", () => {
  it("admits MAX_NUM_SEQS + QUEUE_SIZE over both workers, one ledger, merged metrics", {
    timeout: 120_000,
  }, async () => {
    // Each stream lasts ~2 s (100 tokens, 20 ms apart): the 40 requests all arrive while the first 8 run.
    const runner = await startRunner({
      GATEWAY_WORKERS: "2",
      ...CAPACITY,
      SIM_MODE: "lorem",
      SIM_ITL_MS: "20",
    });
    const workers = workerPids(runner.pid);
    expect(workers).toHaveLength(2);
    const shown = await waitFor(
      async () => ((await runner.status()).gatewayWorkers as number[] | undefined) ?? null,
      10_000,
      "status --json to list the workers",
    );
    expect([...shown].sort()).toEqual([...workers].sort());

    let sampling = true;
    let peakInFlight = 0;
    let peakEngine = 0;
    const sampler = (async () => {
      while (sampling) {
        const text = await metricsText(runner.url).catch(() => "");
        peakInFlight = Math.max(peakInFlight, metric(text, "llm_runner_in_flight_requests") ?? 0);
        peakEngine = Math.max(peakEngine, metric(text, "vllm:num_requests_running") ?? 0);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    // 40 connections at once: the primary deals them out to the two workers in turn.
    const results = await Promise.all(
      Array.from({ length: 40 }, () =>
        call(runner.url, "/v1/chat/completions", stream(100), { timeoutMs: 60_000 }),
      ),
    );
    sampling = false;
    await sampler;

    const served = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    // Per-worker admission would have let 8 through each worker (16); the runner's one admission lets 8 through.
    expect(served).toHaveLength(8);
    expect(refused).toHaveLength(32);
    for (const r of served) expect(sseData(r.text).at(-1)).toBe("[DONE]");
    expect(peakInFlight).toBeLessThanOrEqual(8);
    expect(peakEngine).toBeLessThanOrEqual(4);

    // Metrics of both workers, merged: every response is counted once.
    const text = await metricsText(runner.url);
    expect(text).toContain('llm_runner_requests_total{route="/v1/chat/completions",outcome="ok"} 8');
    expect(text).toContain('llm_runner_requests_total{route="/v1/chat/completions",outcome="rejected"} 32');
    expect(text.match(/^# TYPE process_resident_memory_bytes /gm)).toHaveLength(1);

    // One ledger written by both workers: a row per request, the served ones with their tokens.
    const db = new Database(join(runner.home, "ledger.sqlite"), { readonly: true });
    const rows = db.prepare("SELECT status, count(*) AS n FROM requests GROUP BY status").all() as Array<{
      status: string;
      n: number;
    }>;
    db.close();
    expect(Object.fromEntries(rows.map((r) => [r.status, r.n]))).toEqual({ ok: 8, rejected: 32 });
    await waitFor(
      async () =>
        ((await runner.status()).totals as { requests?: number } | undefined)?.requests === 8 || null,
      10_000,
      "status.json to count the 8 served requests of both workers",
    );

    await runner.stop();
    for (const pid of workers) expect(alive(pid)).toBe(false);
  });

  it("a worker killed -9 is replaced, its slots come back, the other worker's streams finish", {
    timeout: 120_000,
  }, async () => {
    const runner = await startRunner({
      GATEWAY_WORKERS: "2",
      ...CAPACITY,
      SIM_MODE: "lorem",
      SIM_ITL_MS: "20",
    });
    const [victim, survivor] = workerPids(runner.pid) as [number, number];
    const streams = Array.from({ length: 6 }, () =>
      call(runner.url, "/v1/chat/completions", stream(100), { timeoutMs: 60_000 }),
    );
    await new Promise((r) => setTimeout(r, 500));
    process.kill(victim, "SIGKILL");
    const results = await Promise.all(streams);
    const finished = results.filter((r) => r.complete && sseData(r.text).at(-1) === "[DONE]");
    const cut = results.filter((r) => !r.complete);
    // Connections are dealt out in turn, so each worker had some of the 6.
    expect(finished.length).toBeGreaterThan(0);
    expect(cut.length).toBeGreaterThan(0);
    expect(finished.length + cut.length).toBe(6);

    const replaced = await replacedWorkers(runner.pid, victim);
    expect(replaced).toContain(survivor);
    // The killed worker's slots were given back: all 8 can be taken again.
    await waitFor(
      async () => metric(await metricsText(runner.url), "llm_runner_in_flight_requests") === 0 || null,
      10_000,
      "in-flight back to 0",
    );
    const again = await Promise.all(
      Array.from({ length: 8 }, () =>
        call(runner.url, "/v1/chat/completions", stream(5), { timeoutMs: 30_000 }),
      ),
    );
    expect(again.map((r) => r.status)).toEqual(Array(8).fill(200));
  });

  it("progress reaches the hang watchdog through the runner's process; a real hang still ends the stream", {
    timeout: 90_000,
  }, async () => {
    // A stream of > 3 s with a token every 30 ms outlives ENGINE_HANG_TIMEOUT=2 s: it must not be taken for a hang
    // (its progress is forwarded every 100 ms). The second request hangs: the watchdog ends it and restarts.
    const runner = await startRunner({
      GATEWAY_WORKERS: "2",
      SIM_MODE: "lorem",
      SIM_ITL_MS: "30",
      ENGINE_HANG_TIMEOUT: "2",
      ENGINE_CANARY_INTERVAL: "0",
      SIM_HANG_AFTER: "1",
    });
    const long = await call(runner.url, "/v1/chat/completions", stream(200), { timeoutMs: 30_000 });
    expect(long.status).toBe(200);
    const data = sseData(long.text);
    expect(data.at(-1)).toBe("[DONE]");
    expect(long.text).not.toContain('"finish_reason":"error"');
    expect(data.length).toBeGreaterThan(100); // > 100 tokens × 30 ms: longer than the hang timeout

    const hung = await call(runner.url, "/v1/chat/completions", stream(20), { timeoutMs: 30_000 });
    expect(hung.status).toBe(200);
    expect(sseData(hung.text).at(-1)).toBe("[DONE]");
    expect(hung.text).toMatch(/"finish_reason":"error"|"error":/);
    const restarted = await waitFor(
      async () => ((await runner.status()).restarts as number) >= 1 || null,
      20_000,
      "the hang restart",
    );
    expect(restarted).toBe(true);
  });

  it("kill -9 of a worker under load: every request that got its final byte has exactly one row", {
    timeout: 90_000,
  }, async () => {
    // Two writers on one ledger (group commit each, retrying on the other's lock) while 32 clients loop.
    const runner = await startRunner({
      GATEWAY_WORKERS: "2",
      SIM_ITL_MS: "5",
      MAX_NUM_SEQS: "64",
      QUEUE_SIZE: "64",
    });
    const [victim] = workerPids(runner.pid) as [number];
    const finished: ClientResult[] = [];
    let stop = false;
    const client = async (c: number) => {
      for (let i = 0; !stop; i++) {
        const streamed = (c + i) % 3 !== 0;
        const body = chatBody("/v1/chat/completions", words(4 + ((c + i) % 9), c + i), 12, streamed);
        const result = await call(runner.url, "/v1/chat/completions", body, { timeoutMs: 15_000 });
        finished.push(result);
      }
    };
    const clients = Promise.all(Array.from({ length: 32 }, (_, c) => client(c)));
    await new Promise((r) => setTimeout(r, 1_500));
    process.kill(victim, "SIGKILL");
    await new Promise((r) => setTimeout(r, 1_500));
    stop = true;
    await clients;
    // The survivors commit what they queued and close the file (runner.stop() would remove the home).
    expect((await runCli(["stop", "--timeout", "30"], runner.env, 60_000)).code).toBe(0);

    const delivered = finished.filter(
      (r) =>
        r.status === 200 &&
        r.complete &&
        r.requestId !== null &&
        (r.text.endsWith("data: [DONE]\n\n") || r.text.startsWith("{")),
    );
    expect(delivered.length).toBeGreaterThan(100);
    expect(
      finished.some((r) => !r.complete),
      "the killed worker's connections were cut",
    ).toBe(true);
    const db = new Database(join(runner.home, "ledger.sqlite"), { readonly: true, fileMustExist: true });
    try {
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      const counts = new Map<string, number>();
      for (const { id } of db.prepare("SELECT id FROM requests").all() as Array<{ id: string }>) {
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      const missing = delivered.filter((r) => counts.get(r.requestId as string) !== 1);
      expect(missing.map((r) => r.requestId)).toEqual([]);
    } finally {
      db.close();
    }
  });

  it("kill -9 of the runner: its workers exit by themselves", { timeout: 60_000 }, async () => {
    const runner = await startRunner({ GATEWAY_WORKERS: "2" });
    const workers = workerPids(runner.pid);
    expect(workers).toHaveLength(2);
    process.kill(runner.pid, "SIGKILL");
    await waitFor(() => workers.every((pid) => !alive(pid)) || null, 10_000, "the orphaned workers to exit");
  });
});
