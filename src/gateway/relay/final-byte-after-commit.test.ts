import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../log/logger.js";
import { createGatewayMetrics } from "../../metrics/gateway-metrics.js";
import { SqliteLedger } from "../../pricing/ledger.js";
import type { Ledger, LedgerRow } from "../../pricing/ledger-types.js";
import { createGateway } from "../create-gateway.js";
import { type ServedGateway, serveGateway } from "../http/serve.js";
import { engineStream } from "../testing/fake-upstream.js";
import { gatewayTestConfig, StaticSupervisor } from "../testing/static-supervisor.js";

// Group commit keeps the ledger's promise: a finished request's row is durable before its final byte. Here the
// group commit is held open by the test: the client must not get [DONE] (stream) or any answer (JSON) until it
// is released, over real sockets (the Node write path, not app.request()).

/** A ledger whose grouped commits wait for release(). */
function heldLedger() {
  const store = SqliteLedger.open(":memory:");
  const held: Array<{ row: LedgerRow; commit: () => void }> = [];
  let arrived: () => void = () => {};
  const ledger: Ledger = {
    record: (row) => store.record(row),
    recordGrouped: (row) =>
      new Promise<void>((resolve) => {
        held.push({
          row,
          commit: () => {
            store.record(row);
            resolve();
          },
        });
        arrived();
      }),
    summary: (o) => store.summary(o),
    close: () => store.close(),
  };
  return {
    ledger,
    store,
    /** Resolves once a row waits for its commit. */
    nextRow: () =>
      new Promise<void>((r) => {
        if (held.length > 0) r();
        else arrived = r;
      }),
    release: () => {
      for (const h of held.splice(0)) h.commit();
    },
  };
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function start() {
  const engine: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(engineStream(["Hello", " world"]).join(""));
    });
  });
  engine.listen(0, "127.0.0.1");
  await once(engine, "listening");
  closers.push(async () => {
    engine.closeAllConnections();
    engine.close();
  });
  const { port } = engine.address() as AddressInfo;
  const held = heldLedger();
  const config = gatewayTestConfig({ modelId: "test-model" });
  const app = createGateway({
    config,
    supervisor: new StaticSupervisor(
      { baseUrl: `http://127.0.0.1:${port}`, apiKey: "k", generation: 1 },
      "test-model",
    ),
    ledger: held.ledger,
    metrics: createGatewayMetrics(),
    gpus: { list: async () => [] },
    logger: silentLogger(),
  });
  const served: ServedGateway = await serveGateway(app, { host: "127.0.0.1", port: 0, closeGraceMs: 1_000 });
  closers.push(async () => {
    held.release();
    await served.close();
    held.store.close();
  });
  const post = (path: string, body: unknown) =>
    request(`${served.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" }, // AUTH_TOKEN is off in gatewayTestConfig
      body: JSON.stringify(body),
    });
  return { held, post };
}

/** A few rounds of the event loop: time for the gateway to write anything it was going to write now. */
async function rounds(n = 20) {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe("the final byte waits for the row's group commit", () => {
  it("a stream's [DONE] goes out only once its row is committed", async () => {
    const { held, post } = await start();
    const res = await post("/v1/chat/completions", {
      messages: [{ role: "user", content: "hi" }],
      stream: true,
    });
    expect(res.statusCode).toBe(200);
    let text = "";
    res.body.on("data", (d: Buffer) => {
      text += d.toString();
    });
    await held.nextRow();
    await rounds();
    expect(text).toContain("Hello");
    expect(text).not.toContain("[DONE]");
    expect(held.store.rows()).toHaveLength(0);
    held.release();
    await once(res.body, "end");
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(held.store.rows()).toEqual([expect.objectContaining({ status: "ok", completionTokens: 2 })]);
  });

  it("a non-streaming answer (assembled from the engine stream) is sent only once its row is committed", async () => {
    const { held, post } = await start();
    let answered = false;
    const pending = post("/llm", { messages: [{ role: "user", content: "hi" }], max_tokens: 8 }).then((r) => {
      answered = true;
      return r;
    });
    await held.nextRow();
    await rounds();
    expect(answered).toBe(false);
    held.release();
    const res = await pending;
    expect(res.statusCode).toBe(200);
    expect(
      ((await res.body.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message
        .content,
    ).toBe("Hello world");
    expect(held.store.rows()).toEqual([expect.objectContaining({ route: "/llm", status: "ok" })]);
  });
});
