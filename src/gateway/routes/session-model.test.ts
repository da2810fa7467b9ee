// Several models, each its own Live Runner registration: a session reserved on one model's registration calls that
// model only (routes/model-deps.ts sessionModel), through the gateway's own access guard.
import { describe, expect, it } from "vitest";
import type { SessionGate } from "../../livepeer/live-runner/session-gate.js";
import { silentLogger } from "../../log/logger.js";
import { createGatewayMetrics } from "../../metrics/gateway-metrics.js";
import { SqliteLedger } from "../../pricing/ledger.js";
import { createGateway } from "../create-gateway.js";
import { engineStream, FakeUpstream } from "../testing/fake-upstream.js";
import { gatewayTestConfig, StaticSupervisor } from "../testing/static-supervisor.js";

const LLAMA = "meta-llama/Meta-Llama-3.1-8B-Instruct";
const QWEN = "Qwen/Qwen2.5-7B-Instruct";

function twoModels() {
  const engine = (port: number) =>
    new StaticSupervisor({ baseUrl: `http://127.0.0.1:${port}`, apiKey: "k", generation: 1 });
  const models = [
    { config: gatewayTestConfig({ modelId: LLAMA, authToken: "tok" }), supervisor: engine(1) },
    { config: gatewayTestConfig({ modelId: QWEN, authToken: "tok" }), supervisor: engine(2) },
  ];
  const called: string[] = [];
  const upstream = new FakeUpstream((r) => {
    called.push(r.endpoint.baseUrl);
    return { body: engineStream(["ok"]) };
  });
  // The orchestrator reserved session_q on qwen's registration and session_l on llama's.
  const gate: SessionGate = {
    async check(h) {
      if (h.sessionId === "session_q") return { ok: true, model: QWEN };
      if (h.sessionId === "session_l") return { ok: true, model: LLAMA };
      return { ok: false, message: "not one the orchestrator reserved" };
    },
  };
  const app = createGateway({
    config: models[0]?.config as never,
    supervisor: models[0]?.supervisor as never,
    models,
    ledger: SqliteLedger.open(":memory:"),
    metrics: createGatewayMetrics(),
    upstream,
    logger: silentLogger(),
    gpus: { list: async () => [] },
    liveRunner: { snapshot: () => null, gate },
  });
  const post = (path: string, body: unknown, session: string) =>
    app.request(path, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "livepeer-session-id": session,
        "livepeer-runner-route": "runner_x",
        "livepeer-session-token": "t",
      },
      body: JSON.stringify(body),
    });
  return { post, called };
}

const chat = (model?: string) => ({
  ...(model === undefined ? {} : { model }),
  messages: [{ role: "user", content: "hi" }],
  max_tokens: 4,
});

describe("a Live Runner session's model (several models)", () => {
  it("a body without model calls the session's model, on every route", async () => {
    const t = twoModels();
    const a = await t.post("/v1/chat/completions", chat(), "session_q");
    expect(a.status, await a.clone().text()).toBe(200);
    expect(t.called.at(-1)).toContain("127.0.0.1:2");
    const b = await t.post("/llm", chat(), "session_q");
    expect(b.status, await b.clone().text()).toBe(200);
    expect(t.called.at(-1)).toContain("127.0.0.1:2");
    const c = await t.post("/v1/chat/completions", chat(), "session_l");
    expect(c.status).toBe(200);
    expect(t.called.at(-1)).toContain("127.0.0.1:1");
  });

  it("a body naming the session's model is served; naming another is refused (403, 401 on /llm)", async () => {
    const t = twoModels();
    expect((await t.post("/v1/chat/completions", chat(QWEN), "session_q")).status).toBe(200);
    const other = await t.post("/v1/chat/completions", chat(LLAMA), "session_q");
    expect(other.status).toBe(403);
    expect(((await other.json()) as { error: { message: string } }).error.message).toContain(
      `reserved on the registration of the model '${QWEN}'`,
    );
    expect((await t.post("/llm", chat(LLAMA), "session_q")).status).toBe(401);
    expect(t.called.every((u) => u.includes("127.0.0.1:2"))).toBe(true);
  });
});
