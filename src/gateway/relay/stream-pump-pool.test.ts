import { once } from "node:events";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { NOOP_REQUEST_TRACE } from "../../telemetry/request-trace.js";
import { OpenAiDialect } from "../dialects/openai-dialect.js";
import type { Exchange, FinishInput } from "../exchange/exchange.js";
import { UndiciUpstreamClient } from "../exchange/upstream-client.js";
import { readForAnswer } from "./frame-sinks.js";
import { type FrameSink, StreamPump } from "./stream-pump.js";

// However a stream is read, the pump must leave the engine connection in the pool (a new TCP connection per
// request costs both sides) and must not wait on an engine that keeps its body open after [DONE].

const chunk = (content: string) =>
  `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;

/** A client that takes every frame at once, collecting them. */
function collect(ex: Exchange, body: AsyncIterable<Uint8Array>, maxTokens: number): Promise<string> {
  let out = "";
  const sink: FrameSink = {
    failureStatus: 200,
    attach() {},
    write(frames) {
      out += typeof frames === "string" ? frames : Buffer.from(frames).toString();
      return true;
    },
    end(tail) {
      if (tail !== null) out += tail;
    },
    destroy() {},
  };
  const pump = new StreamPump(ex, new OpenAiDialect(maxTokens, false), sink, body);
  pump.start();
  return pump.done.then(() => out);
}

function fakeExchange() {
  const finished: FinishInput[] = [];
  const ex = {
    abortCause: null,
    settled: Promise.resolve(), // the row's commit
    get finished() {
      return finished.length > 0;
    },
    progress() {},
    tokens() {},
    trace: NOOP_REQUEST_TRACE,
    abort() {},
    finish(input: FinishInput) {
      if (finished.length === 0) finished.push(input);
    },
  };
  return { ex: ex as unknown as Exchange, finished };
}

let server: Server | null = null;
let client: UndiciUpstreamClient | null = null;
afterEach(async () => {
  await client?.close();
  server?.closeAllConnections();
  server?.close();
  server = null;
  client = null;
});

async function engine(answer: (res: ServerResponse) => void) {
  let connections = 0;
  server = createServer((req, res) => {
    req.resume();
    req.on("end", () => answer(res));
  });
  server.on("connection", () => connections++);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  client = new UndiciUpstreamClient({ connections: 4 });
  const upstream = client;
  return {
    connections: () => connections,
    send: () =>
      upstream.send({
        endpoint: { baseUrl: `http://127.0.0.1:${port}`, apiKey: "k", generation: 1 },
        method: "POST",
        path: "/v1/chat/completions",
        body: "{}",
        signal: new AbortController().signal,
      }),
    async relay() {
      const { ex, finished } = fakeExchange();
      const res = await this.send();
      return { out: await collect(ex, res.body, 100), finished };
    },
    /** The same read by readForAnswer (a non-streaming answer): no frames, the exchange finished. */
    async drain(maxTokens = 100) {
      const { ex, finished } = fakeExchange();
      const res = await this.send();
      await readForAnswer(ex, res, new OpenAiDialect(maxTokens, false));
      return { finished };
    },
  };
}

describe("the pump to a client over a real engine socket", () => {
  it("reuses one engine connection for answers read one after another", async () => {
    let ended: Promise<unknown> = Promise.resolve();
    const e = await engine((res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(chunk("a"));
      res.write(`${chunk("b")}data: [DONE]\n\n`);
      // The body's end (the chunked terminator) comes in a later write, as uvicorn sends it.
      ended = new Promise((r) => setTimeout(() => res.end(r), 5));
    });
    for (let i = 0; i < 5; i++) {
      const { out, finished } = await e.relay();
      expect(out.endsWith("data: [DONE]\n\n")).toBe(true);
      expect(finished).toEqual([expect.objectContaining({ status: "ok", completionTokens: 2 })]);
      await ended; // the background drain reads the terminator; the socket then goes back to the pool
      for (let t = 0; t < 5; t++) await new Promise((r) => setImmediate(r));
    }
    expect(e.connections()).toBe(1);
  });

  it("finishes the exchange at [DONE] even when the engine keeps its body open", async () => {
    const open: ServerResponse[] = [];
    const e = await engine((res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`${chunk("a")}data: [DONE]\n\n`);
      open.push(res); // never ended
    });
    const { out, finished } = await e.relay();
    expect(out.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(finished).toEqual([expect.objectContaining({ status: "ok", completionTokens: 1 })]);
    for (const res of open) res.end();
  });

  it("a max_tokens cut tears the engine request down (the engine sees its connection close)", async () => {
    let closed: Promise<unknown> = new Promise(() => {});
    const e = await engine((res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`${chunk("a")}${chunk("b")}${chunk("c")}`); // past max_tokens 1, and the body stays open
      closed = once(res, "close");
    });
    const { ex, finished } = fakeExchange();
    const res = await e.send();
    const out = await collect(ex, res.body, 1);
    expect(out).toContain('"finish_reason":"length"');
    expect(out.endsWith("data: [DONE]\n\n")).toBe(true);
    expect(finished).toEqual([expect.objectContaining({ status: "ok", completionTokens: 1 })]);
    await closed;
  });
});

describe("readForAnswer (a non-streaming answer) over a real engine socket", () => {
  it("reuses one engine connection for answers read one after another", async () => {
    let ended: Promise<unknown> = Promise.resolve();
    const e = await engine((res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(chunk("a"));
      res.write(`${chunk("b")}data: [DONE]\n\n`);
      ended = new Promise((r) => setTimeout(() => res.end(r), 5));
    });
    for (let i = 0; i < 5; i++) {
      const { finished } = await e.drain();
      expect(finished).toEqual([expect.objectContaining({ status: "ok", completionTokens: 2 })]);
      await ended;
      for (let t = 0; t < 5; t++) await new Promise((r) => setImmediate(r));
    }
    expect(e.connections()).toBe(1);
  });

  it("finishes the exchange at [DONE] even when the engine keeps its body open", async () => {
    const open: ServerResponse[] = [];
    const e = await engine((res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`${chunk("a")}data: [DONE]\n\n`);
      open.push(res); // never ended
    });
    const { finished } = await e.drain();
    expect(finished).toEqual([expect.objectContaining({ status: "ok", completionTokens: 1 })]);
    for (const res of open) res.end();
  });

  it("a max_tokens cut tears the engine request down (the engine sees its connection close)", async () => {
    let closed: Promise<unknown> = new Promise(() => {});
    const e = await engine((res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`${chunk("a")}${chunk("b")}${chunk("c")}`); // past max_tokens 1, and the body stays open
      closed = once(res, "close");
    });
    const { finished } = await e.drain(1);
    expect(finished).toEqual([expect.objectContaining({ status: "ok", completionTokens: 1 })]);
    await closed;
  });

  it("an engine that drops the connection mid-answer fails the exchange (engine_error), without [DONE]", async () => {
    const e = await engine((res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(chunk("a"), () => setTimeout(() => res.socket?.destroy(), 5));
    });
    const { finished } = await e.drain();
    expect(finished).toEqual([
      expect.objectContaining({
        status: "engine_error",
        error: expect.stringContaining("the connection to the engine failed"),
      }),
    ]);
  });

  it("an engine body that ends without [DONE] fails the exchange", async () => {
    const e = await engine((res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end(chunk("a"));
    });
    const { finished } = await e.drain();
    expect(finished).toEqual([
      expect.objectContaining({
        status: "engine_error",
        error: "the engine closed the stream before sending [DONE]",
      }),
    ]);
  });

  it("reads any other body (not a Node stream) by iteration", async () => {
    const { ex, finished } = fakeExchange();
    const body = (async function* () {
      yield Buffer.from(`${chunk("a")}${chunk("b")}data: [DONE]\n\n`);
    })();
    await readForAnswer(ex, { body }, new OpenAiDialect(100, false));
    expect(finished).toEqual([expect.objectContaining({ status: "ok", completionTokens: 2 })]);
  });
});
