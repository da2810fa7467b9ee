import { describe, expect, it } from "vitest";
import { silentLogger } from "../../log/logger.js";
import { createGatewayMetrics } from "../../metrics/gateway-metrics.js";
import type { Ledger, LedgerRow } from "../../pricing/ledger-types.js";
import { createGateway } from "../create-gateway.js";
import { engineStream, FakeUpstream } from "../testing/fake-upstream.js";
import { gatewayTestConfig, StaticSupervisor } from "../testing/static-supervisor.js";

// No paid request is served that the ledger cannot record.

function setup() {
  const state = { problem: null as string | null, failWrites: false, rows: [] as LedgerRow[] };
  const ledger: Ledger = {
    record(row) {
      if (state.failWrites) throw new Error("SQLITE_FULL: database or disk is full");
      state.rows.push(row);
    },
    unwritable: () => state.problem,
    summary: () => [],
    close() {},
  };
  const upstream = new FakeUpstream(() => ({ body: engineStream(["Hello", " world"]) }));
  const app = createGateway({
    config: gatewayTestConfig(),
    supervisor: new StaticSupervisor({ baseUrl: "http://127.0.0.1:1", apiKey: "k", generation: 1 }),
    ledger,
    metrics: createGatewayMetrics(),
    upstream,
    logger: silentLogger(),
    gpus: { list: async () => [] },
  });
  const post = (path: string, body: object) =>
    app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], ...body }),
    });
  return { state, upstream, post };
}

describe("a ledger that cannot be written", () => {
  it("refuses new requests on every route with the reason, before the engine is asked", async () => {
    const { state, upstream, post } = setup();
    state.problem = "the disk holding the ledger (/home) is full: 0 bytes free, 1048576 needed";
    for (const [path, stream] of [
      ["/llm", false],
      ["/llm", true],
      ["/v1/chat/completions", false],
      ["/v1/chat/completions", true],
    ] as const) {
      const res = await post(path, { stream, model: path === "/llm" ? "" : "m" });
      // /v1: OpenAI's 503 + Retry-After; /llm: 503 here, 500 once /llm's go-livepeer status mapping applies.
      expect(path === "/llm" ? [500, 503] : [503], path).toContain(res.status);
      expect(res.headers.get("retry-after")).toBe("5");
      expect(await res.text()).toMatch(
        /cannot record requests right now \(the disk holding the ledger .* is full/,
      );
    }
    expect(upstream.requests).toHaveLength(0);
    state.problem = null;
    expect((await post("/v1/chat/completions", { model: "m" })).status).toBe(200);
    expect(state.rows).toHaveLength(1);
  });

  it("withholds a non-streaming answer whose row failed to commit", async () => {
    const { state, post } = setup();
    state.failWrites = true;
    for (const path of ["/llm", "/v1/chat/completions"]) {
      const res = await post(path, { model: path === "/llm" ? "" : "m" });
      expect(path === "/llm" ? [500, 503] : [503], path).toContain(res.status);
      const text = await res.text();
      expect(text).toMatch(/row could not be written/);
      expect(text).not.toContain("Hello");
    }
  });
});
