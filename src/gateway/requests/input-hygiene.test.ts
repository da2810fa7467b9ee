import { describe, expect, it } from "vitest";
import { silentLogger } from "../../log/logger.js";
import { createGatewayMetrics } from "../../metrics/gateway-metrics.js";
import { SqliteLedger } from "../../pricing/ledger.js";
import { createGateway } from "../create-gateway.js";
import { engineStream, type FakeReply, FakeUpstream } from "../testing/fake-upstream.js";
import { gatewayTestConfig, StaticSupervisor } from "../testing/static-supervisor.js";

// In process: bad strings and numbers never reach the engine, and an engine 4xx stays a 4xx.

function setup(reply: () => FakeReply = () => ({ body: engineStream(["ok"]) })) {
  const upstream = new FakeUpstream(reply);
  const app = createGateway({
    config: gatewayTestConfig(),
    supervisor: new StaticSupervisor({ baseUrl: "http://127.0.0.1:1", apiKey: "k", generation: 1 }),
    ledger: SqliteLedger.open(":memory:"),
    metrics: createGatewayMetrics(),
    upstream,
    logger: silentLogger(),
    gpus: { list: async () => [] },
  });
  const post = (path: string, text: string) =>
    app.request(path, { method: "POST", headers: { "content-type": "application/json" }, body: text });
  return { upstream, post };
}

const ROUTES = ["/llm", "/v1/chat/completions"];

describe("input hygiene at the gateway", () => {
  it("answers a lone surrogate, a NUL in a name, or an overflowing number with a 400, engine untouched", async () => {
    const bodies = [
      '{"model":"\\u0000\\ud800","messages":[{"role":"user","content":"hi"}]}',
      '{"messages":[{"role":"\\u0000\\ud800","content":"hi"}]}',
      '{"messages":[{"role":"user\\u0000","content":"hi"}]}',
      '{"messages":[{"role":"user","content":"hi \\udc00"}]}',
      '{"messages":[{"role":"user","content":"hi"}],"max_tokens":1e400}',
      '{"messages":[{"role":"user","content":"hi"}],"seed":1e30}',
    ];
    for (const route of ROUTES) {
      const { upstream, post } = setup();
      for (const body of bodies) {
        const res = await post(route, body);
        expect(res.status, `${route} ${body}`).toBe(400);
        const text = await res.text();
        expect(text, `${route} ${body}`).toMatch(/model|role|content|max_tokens|seed/);
        // The error message itself is well-formed (no lone surrogate echoed back).
        const answer = JSON.parse(text) as { detail?: { msg?: string }; error?: { message?: string } };
        const message = answer.detail?.msg ?? answer.error?.message ?? "";
        expect(message.length).toBeGreaterThan(10);
        expect(/[\uD800-\uDFFF]/u.test(message), message).toBe(false);
      }
      expect(upstream.requests).toHaveLength(0);
    }
  });

  it("passes an engine 4xx on as that 4xx; the engine refusing our own key is a 502", async () => {
    const cases: Array<[number, number]> = [
      [400, 400],
      [409, 409],
      [422, 422],
      [429, 429],
      [401, 502],
      [403, 502],
      [500, 502],
    ];
    for (const [engine, expected] of cases) {
      const err = { error: { message: `engine says ${engine}`, type: "X", param: null, code: engine } };
      const { post } = setup(() => ({
        status: engine,
        contentType: "application/json",
        body: [JSON.stringify(err)],
      }));
      const res = await post(
        "/v1/chat/completions",
        '{"model":"m","messages":[{"role":"user","content":"hi"}]}',
      );
      expect(res.status, `engine ${engine}`).toBe(expected);
      expect(await res.text()).toContain(expected === 502 ? "502" : `engine says ${engine}`);
    }
  });
});
