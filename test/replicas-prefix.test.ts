// ROUTER=prefix (the default) with REPLICAS=3 simulator engines: a tenant's requests (one long system prompt, its
// own questions) meet on one replica, which the engines' own prefix caches show; X-Session-Affinity keeps a chat
// on one replica whatever its prompts; and a kill -9 of one engine under a multi-tenant load ends only the
// streams it held, while its tenants move to the other replicas without an error.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { killGroup } from "../src/engine/process-group.js";
import { assertBuilt } from "./helpers/cli.js";
import {
  authHeaders,
  call,
  endedInError,
  type Runner,
  startRunner,
  stopAllRunners,
  streamProblem,
} from "./helpers/load.js";

const MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct";
const ROUTE = "/v1/chat/completions";
const TENANTS = 6;

/** Tenant t's system prompt: 400 words (≈ 2,400 characters, 37 router blocks), unlike any other tenant's. */
const system = (t: number) => Array.from({ length: 400 }, (_, i) => `t${t}x${(i * 7) % 53}`).join(" ");
const question = (t: number, n: number) => Array.from({ length: 12 }, (_, i) => `q${t}y${n}z${i}`).join(" ");
const body = (t: number, n: number, tokens: number) =>
  JSON.stringify({
    model: MODEL,
    messages: [
      { role: "system", content: system(t) },
      { role: "user", content: question(t, n) },
    ],
    max_tokens: tokens,
    ignore_eos: true,
    stream: true,
  });

async function metricsText(runner: Runner): Promise<string> {
  return (await fetch(`${runner.url}/metrics`)).text();
}

/** Σ of a series over its label sets whose labels match `labels`. */
function sum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const m of text.matchAll(new RegExp(`^${name.replace(/:/g, "\\:")}\\{([^}]*)\\} (\\S+)$`, "gm"))) {
    const set = m[1] ?? "";
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) total += Number(m[2]);
  }
  return total;
}

/** Requests each replica's engine finished (its own counter, in /metrics with a `replica` label). */
function servedPerReplica(text: string): number[] {
  return [0, 1, 2].map((r) => sum(text, "vllm:request_success_total", { replica: String(r) }));
}

/** /metrics keeps the engines' series for 2 s: waits until they count `total` finished requests. */
async function servedOnceCounted(runner: Runner, total: number): Promise<number[]> {
  for (let i = 0; i < 40; i++) {
    const served = servedPerReplica(await metricsText(runner));
    if (served.reduce((a, b) => a + b, 0) >= total) return served;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the engines never counted ${total} finished requests`);
}

function engineOf(runner: Runner, replica: number): number {
  const record = JSON.parse(readFileSync(join(runner.home, "status.json"), "utf8")) as {
    replicas: Array<{ replica: number; engineId: string | null; inFlight: number; state: string }>;
  };
  return Number(record.replicas.find((r) => r.replica === replica)?.engineId);
}

function inFlight(runner: Runner): number[] {
  const record = JSON.parse(readFileSync(join(runner.home, "status.json"), "utf8")) as {
    replicas: Array<{ inFlight: number }>;
  };
  return record.replicas.map((r) => r.inFlight);
}

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllRunners();
});

describe("ROUTER=prefix with REPLICAS=3 (simulator, process driver)", () => {
  it("keeps each tenant on one replica, a chat on its X-Session-Affinity replica, and survives a kill -9", {
    timeout: 150_000,
  }, async () => {
    const runner = await startRunner({
      REPLICAS: "3",
      SIM_ITL_MS: "40",
      MAX_NUM_SEQS: "16",
      QUEUE_SIZE: "64",
    });

    // Each tenant's first request, then two more: the later ones go where the first went.
    let sent = 0;
    for (const round of [0, 1, 2]) {
      for (let t = 0; t < TENANTS; t++) {
        const r = await call(runner.url, ROUTE, body(t, round, 2));
        expect(streamProblem(ROUTE, r), r.text).toBeNull();
        sent += 1;
      }
    }
    let text = await metricsText(runner);
    expect(sum(text, "llm_runner_route_decisions_total", { reason: "prefix_hit" })).toBe(2 * TENANTS);
    await servedOnceCounted(runner, sent);
    text = await metricsText(runner);
    // The engines found each tenant's system prompt cached on its later requests: 12 of 18 requests hit it.
    const hits = sum(text, "vllm:prefix_cache_hits_total");
    const queries = sum(text, "vllm:prefix_cache_queries_total");
    console.log(
      `tenants: engines' prefix-cache hit rate ${(hits / queries).toFixed(3)} (${hits}/${queries})`,
    );
    expect(hits / queries).toBeGreaterThan(0.55);

    // A chat with X-Session-Affinity: four unrelated prompts, one replica.
    const before = servedPerReplica(await metricsText(runner));
    for (let n = 0; n < 4; n++) {
      const r = await call(runner.url, ROUTE, body(100 + n, n, 2), {
        headers: { ...authHeaders(), "x-session-affinity": "chat-1" },
      });
      expect(streamProblem(ROUTE, r), r.text).toBeNull();
    }
    sent += 4;
    const after = await servedOnceCounted(runner, sent);
    expect(after.map((n, i) => n - (before[i] ?? 0)).sort()).toEqual([0, 0, 4]);
    expect(sum(await metricsText(runner), "llm_runner_route_decisions_total", { reason: "sticky" })).toBe(3);

    // Multi-tenant load: 6 streams per tenant of ~2.4 s; kill -9 the replica holding the most once all run.
    const load = Array.from({ length: 6 * TENANTS }, (_, i) =>
      call(runner.url, ROUTE, body(i % TENANTS, 10 + i, 60), { timeoutMs: 60_000 }),
    );
    let held: number[] = [];
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 100));
      held = inFlight(runner);
      if (held.reduce((a, b) => a + b, 0) >= 6 * TENANTS) break;
    }
    const victim = held.indexOf(Math.max(...held));
    const cut = held[victim] ?? 0;
    console.log(`multi-tenant load: in flight per replica ${held.join(" / ")}; kill -9 replica ${victim}`);
    killGroup(engineOf(runner, victim), "SIGKILL");
    // Right after the kill, every tenant sends again: the victim's tenants move, none gets an error.
    const moved = await Promise.all(
      Array.from({ length: TENANTS }, (_, t) =>
        call(runner.url, ROUTE, body(t, 99, 2), { timeoutMs: 60_000 }),
      ),
    );
    expect(moved.map((r) => streamProblem(ROUTE, r))).toEqual(moved.map(() => null));
    expect(moved.filter((r) => endedInError(ROUTE, r))).toEqual([]);
    const results = await Promise.all(load);
    expect(results.map((r) => streamProblem(ROUTE, r)).filter((p) => p !== null)).toEqual([]);
    const errored = results.filter((r) => endedInError(ROUTE, r)).length;
    console.log(
      `kill -9 replica ${victim} (${cut} in flight): ${errored} error endings of ${results.length}`,
    );
    expect(errored).toBeGreaterThan(0);
    expect(errored).toBeLessThanOrEqual(cut);
    const fallbacks = sum(await metricsText(runner), "llm_runner_route_decisions_total", {
      reason: "fallback",
    });
    const loads = sum(await metricsText(runner), "llm_runner_route_decisions_total", { reason: "load" });
    console.log(`after the kill: ${fallbacks} fallback and ${loads} load decisions in all`);
  });
});
