import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import type { Context } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import type { Exchange, FinishInput } from "../exchange/exchange.js";
import type { UpstreamResponse } from "../exchange/upstream-client.js";
import { OpenAiRelay } from "./openai-relay.js";
import { streamExchange } from "./sse-writer.js";

const chunk = (content: string) =>
  `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;

/** The parts of an Exchange the writer and its relay use, recording how it ended. */
function recordingExchange() {
  const seen: { finish: FinishInput[]; aborts: string[] } = { finish: [], aborts: [] };
  const ex = {
    finished: false,
    abortCause: null as string | null,
    abortReason: null as string | null,
    upstreamAbort: new AbortController(),
    // The ledger row's commit (group commit); the final byte waits for it.
    settled: Promise.resolve(),
    progress() {},
    tokens() {},
    abort(cause: string, reason: string) {
      if (this.abortCause === null) this.abortCause = cause;
      this.abortReason = reason;
      seen.aborts.push(cause);
      this.upstreamAbort.abort(new Error(reason));
    },
    finish(input: FinishInput) {
      if (this.finished) return;
      this.finished = true;
      seen.finish.push(input);
    },
  };
  return { ex: ex as unknown as Exchange, seen };
}

function upstreamOf(body: AsyncIterable<Uint8Array>): UpstreamResponse {
  return { status: 200, contentType: "text/event-stream", body, text: async () => "", discard() {} };
}

let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
});

/** A Node server whose one route writes `body` through streamExchange, on the Node path (bindings present). */
async function serve(ex: Exchange, body: () => AsyncIterable<Uint8Array>): Promise<number> {
  const server = createServer((incoming, outgoing) => {
    const c = { env: { incoming, outgoing } } as unknown as Context;
    streamExchange(c, ex, upstreamOf(body()), new OpenAiRelay(100, false), { "x-test": "1" });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
}

function get(port: number, onData?: (req: ReturnType<typeof request>) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/" }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => {
        text += d;
        onData?.(req);
      });
      res.on("end", () => resolve(text));
      res.on("error", () => resolve(text));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("streamExchange on the Node path (the SSE writer)", () => {
  for (const [kind, make] of [
    ["a Readable (undici) body", (parts: string[]) => Readable.from(parts.map((p) => Buffer.from(p)))],
    [
      "any other async iterable",
      (parts: string[]) =>
        (async function* () {
          for (const p of parts) yield new TextEncoder().encode(p);
        })(),
    ],
  ] as const) {
    it(`relays ${kind} to [DONE] and finishes the exchange ok`, async () => {
      const { ex, seen } = recordingExchange();
      const port = await serve(ex, () => make([chunk("Hel"), chunk("lo"), "data: [DONE]\n\n"]));
      const text = await get(port);
      expect(text).toContain('"content":"Hel"');
      expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
      expect(seen.finish).toMatchObject([{ status: "ok", httpStatus: 200 }]);
    });
  }

  it("a client that goes mid-stream aborts the exchange as 'client' and finishes it client_abort", async () => {
    const { ex, seen } = recordingExchange();
    const port = await serve(ex, () =>
      (async function* () {
        yield new TextEncoder().encode(chunk("first"));
        // The engine keeps the stream open until the exchange aborts the upstream request.
        const signal = ex.upstreamAbort.signal;
        await new Promise((r) => (signal.aborted ? r(null) : signal.addEventListener("abort", r)));
      })(),
    );
    await get(port, (req) => req.destroy());
    for (let i = 0; i < 100 && seen.finish.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(seen.aborts).toContain("client");
    expect(seen.finish).toMatchObject([{ status: "client_abort", httpStatus: 499 }]);
  });
});
