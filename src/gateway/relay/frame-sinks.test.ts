import { createServer, request, type Server } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { Readable } from "node:stream";
import type { Context } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../log/logger.js";
import { NOOP_REQUEST_TRACE } from "../../telemetry/request-trace.js";
import { OpenAiDialect } from "../dialects/openai-dialect.js";
import type { Exchange, FinishInput } from "../exchange/exchange.js";
import type { UpstreamResponse } from "../exchange/upstream-client.js";
import { streamToClient } from "./frame-sinks.js";
import { WriteTimeout } from "./write-timeout.js";

const chunk = (content: string) =>
  `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;

/** The parts of an Exchange the pump uses, recording how it ended. */
function recordingExchange() {
  const seen = {
    finish: [] as FinishInput[],
    aborts: [] as string[],
    backpressure: [] as boolean[],
    lastHeldAt: 0,
    finishedAt: 0,
  };
  const ex = {
    id: "ex1",
    finished: false,
    abortCause: null as string | null,
    abortReason: null as string | null,
    upstreamAbort: new AbortController(),
    // The ledger row's commit (group commit); the final byte waits for it.
    settled: Promise.resolve(),
    progress() {},
    backpressure(on: boolean) {
      seen.backpressure.push(on);
      if (on) seen.lastHeldAt = Date.now();
    },
    tokens() {},
    trace: NOOP_REQUEST_TRACE,
    abort(cause: string, reason: string) {
      if (this.abortCause === null) this.abortCause = cause;
      this.abortReason = reason;
      seen.aborts.push(cause);
      this.upstreamAbort.abort(new Error(reason));
    },
    finish(input: FinishInput) {
      if (this.finished) return;
      this.finished = true;
      seen.finishedAt = Date.now();
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

/** A Node server whose one route writes `body` through streamToClient, on the Node path (bindings present). */
async function serve(
  ex: Exchange,
  body: () => AsyncIterable<Uint8Array>,
  writeTimeout = new WriteTimeout(60_000, silentLogger()),
): Promise<number> {
  const server = createServer((incoming, outgoing) => {
    const c = { env: { incoming, outgoing } } as unknown as Context;
    streamToClient(
      c,
      ex,
      upstreamOf(body()),
      new OpenAiDialect(1_000_000, false),
      { "x-test": "1" },
      writeTimeout,
    );
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

describe("streamToClient on the Node path (the socket sink)", () => {
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

/** 64 KiB of content per engine read, until the exchange aborts the upstream request (or `reads` run out). */
function bigStream(ex: Exchange, kind: "readable" | "iterable", reads = Number.POSITIVE_INFINITY) {
  const bytes = Buffer.from(chunk("x".repeat(64 * 1024)));
  let n = 0;
  const next = () => (ex.upstreamAbort.signal.aborted || n++ >= reads ? null : bytes);
  if (kind === "readable") {
    return new Readable({
      read() {
        const b = next();
        this.push(b === null ? Buffer.from("data: [DONE]\n\n") : b);
        if (b === null) this.push(null);
      },
    });
  }
  return (async function* () {
    for (let b = next(); b !== null; b = next()) {
      yield new Uint8Array(b);
      await new Promise((r) => setImmediate(r));
    }
    yield new TextEncoder().encode("data: [DONE]\n\n");
  })();
}

/** A raw client that sends the request, reads the first bytes, then reads nothing. */
function stalledClient(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("error", reject);
    socket.on("connect", () => socket.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    socket.once("data", () => {
      socket.pause();
      resolve(socket);
    });
  });
}

async function until(what: () => boolean, ms = 5_000): Promise<void> {
  for (const end = Date.now() + ms; !what(); ) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("streamToClient with a client that takes nothing (CLIENT_WRITE_TIMEOUT)", () => {
  for (const kind of ["readable", "iterable"] as const) {
    it(`${kind} body: the client is closed after the write timeout, the upstream aborted, the row client_abort`, async () => {
      const { ex, seen } = recordingExchange();
      const writeTimeout = new WriteTimeout(300, silentLogger());
      const port = await serve(ex, () => bigStream(ex, kind), writeTimeout);
      const socket = await stalledClient(port);
      try {
        await until(() => seen.finish.length > 0);
        // Closed while held by the client, only once the client had taken nothing for the whole timeout.
        expect(seen.backpressure.at(-1)).toBe(true);
        expect(seen.finishedAt - seen.lastHeldAt).toBeGreaterThanOrEqual(290);
        expect(seen.aborts).toEqual(["client"]);
        expect(ex.upstreamAbort.signal.aborted).toBe(true);
        expect(seen.finish).toMatchObject([
          {
            status: "client_abort",
            httpStatus: 499,
            error: "the client read too little of the stream in 0.3 s (CLIENT_WRITE_TIMEOUT): closed",
          },
        ]);
        expect(writeTimeout.size).toBe(0);
        // The server closed the connection: the client reads what was buffered, then the end, without [DONE].
        const rest = await new Promise<string>((resolve) => {
          let text = "";
          socket.on("data", (d) => {
            text += d.toString("latin1");
          });
          socket.on("close", () => resolve(text));
          socket.resume();
        });
        expect(rest).not.toContain("data: [DONE]");
      } finally {
        socket.destroy();
      }
    });

    it(`${kind} body: a client that is slow but takes bytes within the timeout gets the whole stream`, async () => {
      const { ex, seen } = recordingExchange();
      const writeTimeout = new WriteTimeout(1_500, silentLogger());
      const port = await serve(ex, () => bigStream(ex, kind, 200), writeTimeout);
      const socket = await stalledClient(port);
      const text = await new Promise<string>((resolve) => {
        let out = "";
        socket.on("data", (d) => {
          out += d.toString("latin1");
          if (out.includes("data: [DONE]")) resolve(out);
        });
        socket.on("close", () => resolve(out));
        // Reads in bursts with pauses well inside the timeout.
        const tick = setInterval(() => (socket.isPaused() ? socket.resume() : socket.pause()), 300);
        socket.on("close", () => clearInterval(tick));
        void until(() => out.includes("data: [DONE]"), 30_000).finally(() => clearInterval(tick));
      });
      socket.destroy();
      expect(text).toContain("data: [DONE]");
      expect(seen.finish).toMatchObject([{ status: "ok", httpStatus: 200 }]);
      // Every hold was let go again: the ticket is not left marked as held by the client.
      expect(seen.backpressure.length).toBeGreaterThan(0);
      expect(seen.backpressure.filter((on) => on).length).toBe(seen.backpressure.filter((on) => !on).length);
      expect(writeTimeout.size).toBe(0);
    });
  }
});
