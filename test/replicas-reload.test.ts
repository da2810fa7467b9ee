// llm-runner reload with REPLICAS=2 (simulator, process driver) under constant load: the env file edited, the
// replicas rolled one at a time, zero failed requests, each engine restarted once with the new flags. An
// invalid edit changes nothing and says why.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { assertBuilt, runCli } from "./helpers/cli.js";
import {
  call,
  chatBody,
  endedInError,
  type Route,
  startRunner,
  stopAllRunners,
  streamProblem,
  words,
} from "./helpers/load.js";

interface ReplicaStatus {
  replica: number;
  state: string;
  engineId: string | null;
  generation: number;
}

const ROUTES: Route[] = ["/llm", "/v1/chat/completions"];

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllRunners();
});

function cmdline(pid: string | null): string {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
}

describe("llm-runner reload (REPLICAS=2, simulator, process driver)", () => {
  it("rolls both replicas under constant load with zero failed requests; an invalid edit changes nothing", {
    timeout: 180_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "llmr-envfile-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const envFile = join(dir, "runner.env");
    writeFileSync(envFile, "REPLICAS=2\nSIM_ITL_MS=10\nSIM_LOAD_SECONDS=1\nMAX_NUM_SEQS=48\n");
    const runner = await startRunner({ LLM_RUNNER_ENV_FILE: envFile });
    const replicas = async () => (await runner.status()).replicas as ReplicaStatus[];
    const before = await replicas();
    expect(before.map((r) => r.state)).toEqual(["ready", "ready"]);
    for (const r of before) expect(cmdline(r.engineId)).toContain("--max-num-seqs 48");

    // Constant load: 12 clients, each sending one stream after another until told to stop.
    let loading = true;
    const failures: string[] = [];
    let served = 0;
    const clients = Array.from({ length: 12 }, async (_, c) => {
      for (let i = 0; loading; i++) {
        const route = ROUTES[(c + i) % 2] as Route;
        const r = await call(runner.url, route, chatBody(route, words(30, c + i), 40, true), {
          timeoutMs: 60_000,
        });
        const problem =
          r.status !== 200 ? `status ${r.status}: ${r.text.slice(0, 200)}` : streamProblem(route, r);
        if (problem !== null || endedInError(route, r))
          failures.push(`${route}: ${problem ?? "error ending"}`);
        else served++;
      }
    });

    writeFileSync(envFile, "REPLICAS=2\nSIM_ITL_MS=10\nSIM_LOAD_SECONDS=1\nMAX_NUM_SEQS=40\n");
    const reload = await runCli(["reload"], runner.env, 120_000);
    expect(reload.stderr).toContain("restarted replicas 0, 1");
    expect(reload.code).toBe(0);
    loading = false;
    await Promise.all(clients);
    console.log(`reload under load: ${served} served, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(0);

    const after = await replicas();
    expect(after.map((r) => [r.state, r.generation])).toEqual([
      ["ready", 2],
      ["ready", 2],
    ]);
    for (let i = 0; i < 2; i++) {
      expect(after[i]?.engineId).not.toBe(before[i]?.engineId);
      expect(cmdline(after[i]?.engineId ?? null)).toContain("--max-num-seqs 40");
    }

    // An invalid edit: nothing restarts, the problem is named, exit 2.
    writeFileSync(envFile, "REPLICAS=2\nSIM_ITL_MS=10\nSIM_LOAD_SECONDS=1\nMAX_NUM_SEQS=lots\n");
    const bad = await runCli(["reload"], runner.env, 60_000);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("MAX_NUM_SEQS");
    expect(bad.stderr).toContain("nothing changed");
    expect((await replicas()).map((r) => r.engineId)).toEqual(after.map((r) => r.engineId));

    // REPLICAS=3: one replica added, the two running ones left alone.
    writeFileSync(envFile, "REPLICAS=3\nSIM_ITL_MS=10\nSIM_LOAD_SECONDS=1\nMAX_NUM_SEQS=40\n");
    const grow = await runCli(["reload"], runner.env, 60_000);
    expect(grow.stderr).toContain("added 2");
    expect(grow.code).toBe(0);
    const grown = await replicas();
    expect(grown.map((r) => r.state)).toEqual(["ready", "ready", "ready"]);
    expect(grown.slice(0, 2).map((r) => r.engineId)).toEqual(after.map((r) => r.engineId));
  });
});
