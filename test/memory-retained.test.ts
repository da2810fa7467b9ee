import { connect } from "node:net";
import v8 from "node:v8";
import vm from "node:vm";
import { Pool } from "undici";
import { expect, it, onTestFinished } from "vitest";
import { createGateway } from "../src/gateway/create-gateway.js";
import { serveGateway } from "../src/gateway/http/serve.js";
import { silentLogger } from "../src/log/logger.js";
import { createGatewayMetrics } from "../src/metrics/gateway-metrics.js";
import { SqliteLedger } from "../src/pricing/ledger.js";
import { engineStream, FakeUpstream } from "./helpers/fake-upstream.js";
import { gatewayTestConfig, StaticSupervisor } from "./helpers/static-supervisor.js";

// A quick check (bench/memory.mjs is the full run against the built runner and its
// engine): the gateway's retained heap, after a forced GC, comes back within 5 MiB of a warm baseline after
// clients that leave mid-stream and after thousands of completed requests. Retained heap, not RSS: RSS keeps
// the allocator's high-water mark.

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

function retainedBytes(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const LIMIT = 5 * 1024 * 1024;

it("retained heap stays within 5 MiB over 1,000 mid-stream disconnects and 3,000 completed requests", {
  timeout: 90_000,
}, async () => {
  let sent = 0;
  const upstream = new FakeUpstream((req) => {
    sent++;
    const asked = JSON.parse(req.body ?? "{}") as { stream?: boolean; max_tokens?: number };
    const wantsStream = asked.stream === true;
    if (!wantsStream) {
      const usage = { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 };
      const choices = [{ index: 0, message: { role: "assistant", content: "a b" }, finish_reason: "stop" }];
      return { contentType: "application/json", body: [JSON.stringify({ id: "x", choices, usage })] };
    }
    // A client that leaves (it asks for 40 tokens) leaves mid-stream: its frames are paced.
    const frames = engineStream(Array.from({ length: asked.max_tokens ?? 4 }, (_, i) => `t${i} `));
    return { body: asked.max_tokens === 40 ? frames.flatMap((f) => [f, { waitMs: 5 }]) : frames };
  });
  const ledger = SqliteLedger.open(":memory:");
  const app = createGateway({
    config: gatewayTestConfig({ maxNumSeqs: 256, queueSize: 256 }),
    supervisor: new StaticSupervisor({ baseUrl: "http://127.0.0.1:1", apiKey: "k", generation: 1 }),
    ledger,
    metrics: createGatewayMetrics(),
    upstream,
    logger: silentLogger(),
    gpus: { list: async () => [] },
  });
  const served = await serveGateway(app, { host: "127.0.0.1", port: 0 });
  const pool = new Pool(served.url, { connections: 32 });
  onTestFinished(async () => {
    await pool.close();
    await served.close();
    ledger.close();
  });
  const port = Number(new URL(served.url).port);
  const bodyFor = (route: string, stream: boolean, maxTokens: number) =>
    JSON.stringify({
      ...(route === "/llm" ? {} : { model: "m" }),
      messages: [{ role: "user", content: "hi" }],
      max_tokens: maxTokens,
      stream,
    });

  const complete = async (i: number) => {
    const route = i % 2 === 0 ? "/llm" : "/v1/chat/completions";
    const res = await pool.request({
      path: route,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: bodyFor(route, i % 4 >= 2, 4),
    });
    await res.body.text();
    expect(res.statusCode).toBe(200);
  };
  const leave = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const route = i % 2 === 0 ? "/llm" : "/v1/chat/completions";
      const body = bodyFor(route, true, 40);
      const socket = connect(port, "127.0.0.1");
      let seen = "";
      socket.on("connect", () =>
        socket.write(
          `POST ${route} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        ),
      );
      socket.on("data", (d) => {
        seen += d.toString();
        if (/\r\n\r\n[\s\S]*data: /.test(seen)) {
          socket.destroy();
          resolve();
        }
      });
      socket.on("error", reject);
    });
  const run = async (count: number, limit: number, task: (i: number) => Promise<void>) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: limit }, async () => {
        while (next < count) await task(next++);
      }),
    );
  };
  const rowCount = () => ledger.summary().reduce((n, r) => n + r.requests + r.rejected, 0);
  const settle = async () => {
    // Every aborted exchange has finished (its row written, its listeners gone).
    for (let i = 0; i < 100 && sent > rowCount(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(rowCount()).toBe(sent);
    // The fake engine keeps every request it saw (signals included): not the gateway's memory.
    upstream.requests.length = 0;
  };

  await run(600, 32, complete); // warm-up: JIT, pools, statement caches
  await run(100, 16, leave);
  await settle();
  const base = retainedBytes();
  await run(1_000, 32, leave);
  await settle();
  const afterLeaving = retainedBytes();
  await run(3_000, 32, complete);
  await settle();
  const afterCompleted = retainedBytes();
  const mib = (b: number) => (b / 1024 / 1024).toFixed(2);
  console.log(
    `memory-retained: baseline ${mib(base)} MiB; +${mib(afterLeaving - base)} MiB after 1,000 disconnects; ` +
      `+${mib(afterCompleted - base)} MiB after 3,000 more completed requests (${sent} requests in all)`,
  );
  // The :memory: ledger itself lives outside the JS heap (SQLite's own allocator), so rows don't count here.
  expect(afterLeaving - base).toBeLessThan(LIMIT);
  expect(afterCompleted - base).toBeLessThan(LIMIT);
});
