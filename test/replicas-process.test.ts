// REPLICAS=3 with the simulator and the process driver: requests spread over the replicas (least in flight),
// and a kill -9 of one engine under 60 streams ends only its streams, with the error ending, while the others
// complete, /health never says ERROR, and the killed replica comes back alone.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { killGroup } from "../src/engine/process-group.js";
import { assertBuilt } from "./helpers/cli.js";
import {
  call,
  chatBody,
  endedInError,
  type Route,
  startRunner,
  stopAllRunners,
  streamProblem,
  waitForHealth,
  words,
} from "./helpers/load.js";

interface ReplicaStatus {
  replica: number;
  state: string;
  gpus: string;
  engineId: string | null;
  inFlight: number;
  restarts: number;
}

/** status.json as the runner writes it (every state change, and every 2 s). */
function replicasOf(home: string): ReplicaStatus[] {
  const record = JSON.parse(readFileSync(join(home, "status.json"), "utf8")) as {
    replicas?: ReplicaStatus[];
  };
  return record.replicas ?? [];
}

const ROUTES: Route[] = ["/llm", "/v1/chat/completions"];

function streams(url: string, n: number, tokens: number) {
  return Array.from({ length: n }, async (_, i) => {
    const route = ROUTES[i % 2] as Route;
    const result = await call(url, route, chatBody(route, words(tokens, i), tokens + 10, true), {
      timeoutMs: 60_000,
    });
    return { route, result };
  });
}

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllRunners();
});

describe("REPLICAS=3 (simulator, process driver)", () => {
  it("spreads streams over the replicas, and a kill -9 of one engine costs only its streams", {
    timeout: 120_000,
  }, async () => {
    const runner = await startRunner({
      REPLICAS: "3",
      SIM_ITL_MS: "50",
      MAX_NUM_SEQS: "64",
      QUEUE_SIZE: "16",
    });
    const before = await runner.status();
    expect((before.replicas as ReplicaStatus[]).map((r) => r.state)).toEqual(["ready", "ready", "ready"]);

    // Spread: 60 streams of ~4 s; sample the replicas' in-flight counts while all are running.
    const spread = streams(runner.url, 60, 80);
    let peak: number[] = [];
    for (let i = 0; i < 40 && peak.reduce((a, b) => a + b, 0) < 60; i++) {
      await new Promise((r) => setTimeout(r, 250));
      peak = replicasOf(runner.home).map((r) => r.inFlight);
    }
    const mean = peak.reduce((a, b) => a + b, 0) / peak.length;
    console.log(`spread: in flight per replica ${peak.join(" / ")}`);
    expect(peak.length).toBe(3);
    for (const n of peak) expect(n).toBeLessThanOrEqual(1.5 * mean);
    const spreadResults = await Promise.all(spread);
    expect(spreadResults.filter(({ route, result }) => streamProblem(route, result) !== null)).toEqual([]);
    // Each engine's own token counter, scraped per replica into /metrics with a `replica` label.
    const metrics = await (await fetch(`${runner.url}/metrics`)).text();
    const tokens = [0, 1, 2].map((i) => {
      const line = metrics
        .split("\n")
        .find((l) => l.startsWith(`vllm:generation_tokens_total{replica="${i}"`));
      return Number(line?.split(" ").at(-1));
    });
    console.log(`spread: generation tokens per replica ${tokens.join(" / ")}`);
    const meanTokens = tokens.reduce((x, y) => x + y, 0) / 3;
    for (const n of tokens) expect(n).toBeGreaterThan(0);
    for (const n of tokens) expect(n).toBeLessThanOrEqual(1.5 * meanTokens);

    // Isolation: 60 streams, then kill -9 replica 1's engine while they run.
    const health: string[] = [];
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const res = await fetch(`${runner.url}/health`).catch(() => null);
        if (res) health.push(((await res.json()) as { status: string }).status);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const load = streams(runner.url, 60, 80);
    let victim: ReplicaStatus | undefined;
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 250));
      victim = replicasOf(runner.home).find((r) => r.replica === 1);
      if (victim && victim.inFlight >= 15) break;
    }
    const cut = victim?.inFlight ?? 0;
    const pid = Number(victim?.engineId);
    expect(Number.isInteger(pid) && pid > 0).toBe(true);
    killGroup(pid, "SIGKILL");
    const results = await Promise.all(load);
    const problems = results.filter(({ route, result }) => streamProblem(route, result) !== null);
    const errored = results.filter(({ route, result }) => endedInError(route, result));
    console.log(
      `kill -9 replica 1 (${cut} in flight): ${results.length - errored.length} completed, ${errored.length} error endings`,
    );
    expect(problems).toEqual([]);
    expect(errored.length).toBeGreaterThan(0);
    // Only the killed replica's streams: never more than it held when it was killed.
    expect(errored.length).toBeLessThanOrEqual(cut);
    expect(results.length - errored.length).toBeGreaterThanOrEqual(60 - cut);

    // It comes back alone: replica 1 restarted once, the others never.
    await waitForHealth(runner.url, ["IDLE", "OK"], 30_000);
    let after: ReplicaStatus[] = [];
    for (let i = 0; i < 120; i++) {
      after = replicasOf(runner.home);
      if (after.every((r) => r.state === "ready")) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    watching = false;
    await watcher;
    expect(after.map((r) => [r.state, r.restarts])).toEqual([
      ["ready", 0],
      ["ready", 1],
      ["ready", 0],
    ]);
    expect(health).not.toContain("ERROR");
    expect(health.length).toBeGreaterThan(0);
  });
});
