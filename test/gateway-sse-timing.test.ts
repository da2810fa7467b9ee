// Every engine chunk reaches the client the moment it arrives: nothing is held for the next one (no merging
// of a token with the one after it, no holding the finish chunk back to join it with usage).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGateway } from "../src/gateway/create-gateway.js";
import { serveGateway } from "../src/gateway/http/serve.js";
import { silentLogger } from "../src/log/logger.js";
import { createGatewayMetrics } from "../src/metrics/gateway-metrics.js";
import { SqliteLedger } from "../src/pricing/ledger.js";
import { engineStream, FakeUpstream } from "./helpers/fake-upstream.js";
import {
  gatewayTestConfig,
  type RunningGateway,
  StaticSupervisor,
  startGatewayOn,
} from "./helpers/static-supervisor.js";

const GAP_MS = 200;
const head = {
  id: "chatcmpl-timing",
  object: "chat.completion.chunk",
  created: 1_700_000_000,
  model: "test-model",
};
const chunk = (choice: object, extra: object = {}) =>
  `data: ${JSON.stringify({ ...head, choices: [choice], ...extra })}\n\n`;

/**
 * An engine on a real socket that sends its role chunk and first token, waits GAP_MS, then sends the last
 * token (with finish_reason), usage and [DONE]; it notes when it wrote the second token.
 */
class PausingEngine {
  secondSentAt: number[] = [];
  private server: Server | null = null;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(
          chunk({
            index: 0,
            delta: { role: "assistant", content: "" },
            logprobs: null,
            finish_reason: null,
          }) + chunk({ index: 0, delta: { content: "first" }, logprobs: null, finish_reason: null }),
        );
        setTimeout(() => {
          this.secondSentAt.push(performance.now());
          res.end(
            chunk({ index: 0, delta: { content: " second" }, logprobs: null, finish_reason: "stop" }) +
              `data: ${JSON.stringify({ ...head, choices: [], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } })}\n\n` +
              "data: [DONE]\n\n",
          );
        }, GAP_MS);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Reads an SSE response; returns when each text event arrived and the texts in order. */
async function readTimed(res: Response): Promise<{ texts: string[]; at: number[]; done: boolean }> {
  const texts: string[] = [];
  const at: number[] = [];
  let done = false;
  let buffer = "";
  const decoder = new TextDecoder();
  const reader = res.body?.getReader();
  if (!reader) throw new Error("no body");
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    const now = performance.now();
    buffer += decoder.decode(value, { stream: true });
    let cut = buffer.indexOf("\n\n");
    while (cut >= 0) {
      const data = buffer.slice(0, cut).replace(/^data: /, "");
      buffer = buffer.slice(cut + 2);
      cut = buffer.indexOf("\n\n");
      if (data === "[DONE]") {
        done = true;
        continue;
      }
      const content = (JSON.parse(data) as { choices: Array<{ delta: { content?: string } }> }).choices[0]
        ?.delta.content;
      if (content) {
        texts.push(content);
        at.push(now);
      }
    }
  }
  return { texts, at, done };
}

const TOKEN = "timing-token";
const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
let engine: PausingEngine;
let gw: RunningGateway;

beforeAll(async () => {
  engine = new PausingEngine();
  await engine.start();
  gw = await startGatewayOn(
    { baseUrl: engine.url, apiKey: "engine-key", generation: 1 },
    { config: { authToken: TOKEN } },
  );
});
afterAll(async () => {
  await gw?.close();
  await engine?.stop();
});

describe("SSE timing through the gateway (undici engine body, Node socket writes)", () => {
  for (const route of ["/v1/chat/completions", "/llm"] as const) {
    it(`${route}: the first token reaches the client before the engine sends the second`, async () => {
      const sentBefore = engine.secondSentAt.length;
      const body =
        route === "/llm"
          ? { model: "", messages: [{ role: "user", content: "hi" }], max_tokens: 10, stream: true }
          : {
              model: "test-model",
              messages: [{ role: "user", content: "hi" }],
              max_tokens: 10,
              stream: true,
            };
      const res = await fetch(`${gw.url}${route}`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
      const { texts, at, done } = await readTimed(res);
      expect(texts).toEqual(["first", " second"]);
      expect(done).toBe(true);
      const secondSent = engine.secondSentAt[sentBefore];
      expect(secondSent).toBeDefined();
      // The first token was on the client while the engine was still waiting to send the second...
      expect(at[0]).toBeLessThan(secondSent as number);
      // ...and the second arrived after it was sent, not earlier (the clock is the same process's).
      expect(at[1]).toBeGreaterThanOrEqual(secondSent as number);
      expect((at[1] as number) - (at[0] as number)).toBeGreaterThan(GAP_MS * 0.75);
    });
  }
});

describe("SSE timing with a scripted engine body (async iterable, Node socket writes)", () => {
  it("writes each engine read as it comes", async () => {
    const frames = engineStream(["first", " second"]);
    const upstream = new FakeUpstream(() => ({
      body: [frames.slice(0, 2).join(""), { waitMs: GAP_MS }, frames.slice(2).join("")],
    }));
    const ledger = SqliteLedger.open(":memory:");
    const app = createGateway({
      config: gatewayTestConfig(),
      supervisor: new StaticSupervisor({ baseUrl: "http://127.0.0.1:1", apiKey: "k", generation: 1 }),
      ledger,
      metrics: createGatewayMetrics(),
      upstream,
      gpus: { list: async () => [] },
      logger: silentLogger(),
    });
    const served = await serveGateway(app, { host: "127.0.0.1", port: 0, closeGraceMs: 1_000 });
    try {
      const started = performance.now();
      const res = await fetch(`${served.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: "test-model",
          messages: [{ role: "user", content: "hi" }],
          stream: true,
        }),
      });
      const { texts, at, done } = await readTimed(res);
      expect(texts).toEqual(["first", " second"]);
      expect(done).toBe(true);
      expect((at[0] as number) - started).toBeLessThan(GAP_MS * 0.75);
      expect((at[1] as number) - (at[0] as number)).toBeGreaterThan(GAP_MS * 0.75);
    } finally {
      await served.close();
      ledger.close();
    }
  });
});
