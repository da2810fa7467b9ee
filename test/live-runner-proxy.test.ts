// Clients through the orchestrator's reverse proxy (test/helpers/fake-orchestrator.ts, after go-livepeer's
// proxyLiveRunner): every route, JSON and SSE, chunks arriving while the stream runs, the session in the ledger
// and in `usage --by-session`, a persistent session kept on one replica, who may spend the GPU, and the same
// through HTTP worker processes.
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, runCli, waitFor } from "./helpers/cli.js";
import { FakeOrchestrator } from "./helpers/fake-orchestrator.js";
import { authHeaders, type Runner, startRunner, stopAllRunners } from "./helpers/load.js";

const SECRET = "orch-secret-for-proxy-tests";
const MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct";
const orchestrators: FakeOrchestrator[] = [];

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllRunners();
  for (const o of orchestrators.splice(0)) await o.stop().catch(() => {});
});

async function registered(
  extra: Record<string, string> = {},
): Promise<{ o: FakeOrchestrator; runner: Runner; id: string }> {
  const o = await new FakeOrchestrator({ secret: SECRET, intervalMs: 1_000, ttlMs: 4_000 }).start();
  orchestrators.push(o);
  const runner = await startRunner({ LIVE_RUNNER_ORCH_URL: o.url, LIVE_RUNNER_SECRET: SECRET, ...extra });
  const r = await waitFor(
    async () => {
      const live = o.registered()[0];
      return live && o.isReady(live) ? live : null;
    },
    20_000,
    "the runner registered and ready",
  );
  return { o, runner, id: r.id };
}

const json = (body: unknown) => ({
  method: "POST",
  // A client's own Authorization: the proxy forwards it untouched, and it proves nothing to the runner.
  headers: { "content-type": "application/json", authorization: "Bearer some-client-key" },
  body: JSON.stringify(body),
});

/** Reads an SSE body, noting when each data line arrived. */
async function sseTimeline(res: Response): Promise<Array<{ at: number; data: string }>> {
  const out: Array<{ at: number; data: string }> = [];
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let at = buffer.indexOf("\n\n");
    while (at >= 0) {
      const frame = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      for (const line of frame.split("\n"))
        if (line.startsWith("data: ")) out.push({ at: Date.now(), data: line.slice(6) });
      at = buffer.indexOf("\n\n");
    }
  }
  return out;
}

function ledgerRows(runner: Runner): Array<{ route: string; status: string; session_id: string | null }> {
  const db = new Database(join(runner.home, "ledger.sqlite"), { readonly: true });
  try {
    return db.prepare("SELECT route, status, session_id FROM requests ORDER BY ts").all() as Array<{
      route: string;
      status: string;
      session_id: string | null;
    }>;
  } finally {
    db.close();
  }
}

describe("single-shot sessions through the orchestrator's proxy", () => {
  it("serves every route, JSON and SSE, streams without buffering, records each session", {
    timeout: 90_000,
  }, async () => {
    const { o, runner, id } = await registered({ SIM_MODE: "lorem", SIM_ITL_MS: "40" });
    const app = `${o.url}/apps/${id}/app`;
    const chat = { model: MODEL, messages: [{ role: "user", content: "tell me" }], max_tokens: 12 };

    const answers = await Promise.all([
      fetch(`${app}/v1/chat/completions`, json(chat)),
      fetch(`${app}/v1/completions`, json({ model: MODEL, prompt: "once upon", max_tokens: 6 })),
      fetch(`${app}/v1/responses`, json({ model: MODEL, input: "hello", max_output_tokens: 6 })),
      fetch(`${app}/llm`, json({ messages: [{ role: "user", content: "hi" }], max_tokens: 6 })),
    ]);
    for (const res of answers) expect(res.status, await res.clone().text()).toBe(200);
    const [chatAnswer, , , llmAnswer] = answers as [Response, Response, Response, Response];
    expect(((await chatAnswer.json()) as { object: string }).object).toBe("chat.completion");
    expect(((await llmAnswer.json()) as { choices: unknown[] }).choices).toHaveLength(1);
    const models = await fetch(`${app}/v1/models`, { headers: { authorization: "Bearer x" } });
    expect(models.status).toBe(200);

    // SSE through the proxy: frames arrive one by one while the engine generates (40 ms apart), not at the end.
    for (const [path, body] of [
      ["/v1/chat/completions", { ...chat, stream: true, max_tokens: 20 }],
      ["/llm", { messages: [{ role: "user", content: "hi" }], max_tokens: 20, stream: true }],
    ] as const) {
      const started = Date.now();
      const res = await fetch(`${app}${path}`, json(body));
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/event-stream");
      const frames = await sseTimeline(res);
      const ended = Date.now();
      expect(frames.at(-1)?.data).toBe("[DONE]");
      const contentFrames = frames.filter((f) => f.data.includes('"content"'));
      expect(contentFrames.length).toBeGreaterThanOrEqual(10);
      // The first token arrived well before the stream ended: nothing on the way held it back.
      expect((contentFrames[0]?.at ?? ended) - started).toBeLessThan((ended - started) / 2);
    }

    // The proxy set the four Livepeer headers and passed the client's Authorization along.
    const sent = o.proxied.at(-1)?.headers ?? {};
    expect(sent["livepeer-runner-route"]).toBe(id);
    expect(sent["livepeer-session-token"]).toBeTruthy();
    expect(sent.authorization).toBe("Bearer some-client-key");

    // One ledger row per generation, each with the single-shot session the orchestrator reserved for it.
    const rows = ledgerRows(runner).filter((r) => r.status === "ok");
    expect(rows).toHaveLength(6);
    const sessions = new Set(rows.map((r) => r.session_id));
    expect(sessions.size).toBe(6);
    for (const s of sessions) expect(s).toMatch(/^session_/);

    const usage = await runCli(["usage", "--by-session", "--json"], runner.env);
    expect(usage.code, usage.stderr).toBe(0);
    const bySession = JSON.parse(usage.stdout) as Array<{
      sessionId: string;
      requests: number;
      computeSeconds: number;
    }>;
    expect(bySession.map((s) => s.sessionId).sort()).toEqual([...sessions].sort());
    for (const s of bySession) {
      expect(s.requests).toBe(1);
      expect(s.computeSeconds).toBeGreaterThan(0);
    }
    const table = await runCli(["usage", "--by-session"], runner.env);
    expect(table.stdout).toMatch(/COMPUTE S/);
  });

  it("refuses a forged session without the bearer; direct traffic with AUTH_TOKEN keeps working", {
    timeout: 60_000,
  }, async () => {
    const { o, runner, id } = await registered();
    const body = JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 4 });
    const forged = {
      "content-type": "application/json",
      "livepeer-session-id": "session_forged01",
      "livepeer-runner-route": id,
      "livepeer-session-token": "made-up",
    };
    const refused = await fetch(`${runner.url}/v1/chat/completions`, {
      method: "POST",
      headers: forged,
      body,
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(
      "not one the orchestrator reserved",
    );
    const llm = await fetch(`${runner.url}/llm`, {
      method: "POST",
      headers: forged,
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
    });
    expect(llm.status).toBe(401); // /llm answers 400, 401 or 500 only (go-livepeer's batch path)
    // Another runner's route, or no session token: refused before any lookup.
    const other = await fetch(`${runner.url}/v1/chat/completions`, {
      method: "POST",
      headers: { ...forged, "livepeer-runner-route": "runner_someoneelse" },
      body,
    });
    expect(other.status).toBe(403);
    // A session the orchestrator did reserve, sent straight to the runner with its token: it is served.
    const reserved = o.reserve(id);
    expect(reserved.status).toBe(200);
    const real = await fetch(`${runner.url}/v1/chat/completions`, {
      method: "POST",
      headers: { ...forged, "livepeer-session-id": reserved.sessionId as string },
      body,
    });
    expect(real.status).toBe(200);
    o.release(id, reserved.sessionId as string);
    // Once released, the same session id is refused.
    await waitFor(
      async () => {
        const again = await fetch(`${runner.url}/v1/chat/completions`, {
          method: "POST",
          headers: { ...forged, "livepeer-session-id": reserved.sessionId as string },
          body,
        });
        return again.status === 403 ? true : null;
      },
      10_000,
      "a released session refused",
    );
    const direct = await fetch(`${runner.url}/v1/chat/completions`, {
      method: "POST",
      headers: authHeaders(),
      body,
    });
    expect(direct.status).toBe(200);
    const missing = await fetch(`${runner.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(missing.status).toBe(401);
  });
});

describe("persistent sessions", () => {
  it("keep a session's requests on one replica while it is ready, spread sessions over replicas", {
    timeout: 90_000,
  }, async () => {
    const { o, runner, id } = await registered({
      LIVE_RUNNER_MODE: "persistent",
      REPLICAS: "2",
      MAX_NUM_SEQS: "4",
    });
    expect(o.only().req.mode).toBe("persistent");
    const replicaOf = async (sessionPath: string) => {
      const res = await fetch(
        `${sessionPath}/v1/chat/completions`,
        json({ model: MODEL, messages: [{ role: "user", content: "which replica?" }], max_tokens: 2 }),
      );
      expect(res.status).toBe(200);
      await res.text();
      return res;
    };
    // Which replica served: the engines' own success counts, per replica, in /metrics.
    const served = async () => {
      const text = await (await fetch(`${runner.url}/metrics`)).text();
      const counts = [0, 0];
      for (const m of text.matchAll(/^vllm:request_success_total\{[^}]*replica="(\d)"[^}]*\} (\d+)/gm))
        counts[Number(m[1])] = (counts[Number(m[1])] ?? 0) + Number(m[2]);
      return counts;
    };
    const used = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const reserved = await fetch(`${o.url}/apps/${id}/session`, { method: "POST" });
      expect(reserved.status).toBe(200);
      const { session_id } = (await reserved.json()) as { session_id: string };
      const before = await served();
      for (let k = 0; k < 4; k++) await replicaOf(`${o.url}/apps/${id}/session/${session_id}/app`);
      // /metrics keeps the engines' series for 2 s: wait until it shows these four.
      const total = (c: number[]) => c.reduce((a, b) => a + b, 0);
      const after = await waitFor(
        async () => {
          const now = await served();
          return total(now) === total(before) + 4 ? now : null;
        },
        10_000,
        "the engines' counts to show the session's requests",
      );
      const delta = after.map((n, r) => n - (before[r] ?? 0));
      // Least-in-flight alone would alternate 2 + 2; the session's four went to one replica.
      expect(delta.sort()).toEqual([0, 4]);
      used.add(after.findIndex((n, r) => n !== before[r]));
    }
    // New sessions still spread: both replicas took some.
    expect(used.size).toBe(2);
    expect((await runner.status()).replicas).toHaveLength(2);
  });
});

describe("with GATEWAY_WORKERS=2", () => {
  it("a proxied session is checked through the runner's process; a forged one is refused", {
    timeout: 90_000,
  }, async () => {
    const { o, runner, id } = await registered({ GATEWAY_WORKERS: "2" });
    const body = { model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 4 };
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${o.url}/apps/${id}/app/v1/chat/completions`, json(body));
      expect(res.status, await res.clone().text()).toBe(200);
    }
    const forged = await fetch(`${runner.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "livepeer-session-id": "session_nope",
        "livepeer-runner-route": id,
        "livepeer-session-token": "x",
      },
      body: JSON.stringify(body),
    });
    expect(forged.status).toBe(403);
    const metrics = await (await fetch(`${runner.url}/metrics`)).text();
    expect(metrics).toMatch(/^llm_runner_live_runner_registered 1$/m);
  });
});
