import type { ServerResponse } from "node:http";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Context } from "hono";
import type { Dialect } from "../dialects/dialect.js";
import type { Exchange } from "../exchange/exchange.js";
import type { UpstreamResponse } from "../exchange/upstream-client.js";
import { nodeBindings } from "../http/node-bindings.js";
import { type FrameSink, StreamPump } from "./stream-pump.js";
import type { WriteTimeout } from "./write-timeout.js";

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

/**
 * The SSE response of a streamed exchange. Under Node the frames are written straight to the socket, one write per
 * engine read; under app.request() (tests) the same pump feeds a web ReadableStream. Either way a client that goes
 * away aborts the engine request at once, and what waits for a slow client is its buffer and one engine read.
 */
export function streamToClient(
  c: Context,
  ex: Exchange,
  upstream: UpstreamResponse,
  dialect: Dialect,
  headers: Record<string, string>,
  writeTimeout: WriteTimeout,
): Response {
  const node = nodeBindings(c);
  const relay = ex.trace.relay(true);
  if (node === null) {
    const sink = new WebStreamSink();
    new StreamPump(ex, dialect, sink, upstream.body, writeTimeout, relay);
    return new Response(sink.stream, { status: 200, headers: { ...SSE_HEADERS, ...headers } });
  }
  node.outgoing.writeHead(200, { ...SSE_HEADERS, ...headers });
  // Headers go out now: clients see the stream open before the first frame.
  node.outgoing.flushHeaders();
  new StreamPump(ex, dialect, new SocketSink(node.outgoing), upstream.body, writeTimeout, relay).start();
  return RESPONSE_ALREADY_SENT;
}

/** Calls `done` once the response has gone out (true) or its client left first (false); at once under app.request(). */
export function whenSent(c: Context, done: (delivered: boolean) => void): void {
  const node = nodeBindings(c);
  if (node === null) {
    done(true);
    return;
  }
  const outgoing = node.outgoing;
  outgoing.once("close", () => done(outgoing.writableFinished));
}

/**
 * Reads an engine stream to its end for a non-streaming answer: the dialect keeps what the answer needs, the frames
 * are dropped, the exchange is finished; settles once its ledger row is durable (or failed).
 */
export function readForAnswer(
  ex: Exchange,
  upstream: { body: AsyncIterable<Uint8Array> },
  dialect: Dialect,
): Promise<void> {
  const pump = new StreamPump(ex, dialect, new NoClient(), upstream.body);
  pump.start();
  return pump.done;
}

/** The Node response: a write that returns false pauses the engine until `drain`. */
class SocketSink implements FrameSink {
  readonly failureStatus = 200; // the stream's status went out with its headers
  private onDrain: () => void = () => {};
  private onClose: () => void = () => {};

  constructor(private readonly outgoing: ServerResponse) {}

  attach(pump: StreamPump): void {
    const outgoing = this.outgoing;
    this.onDrain = () => pump.resume();
    this.onClose = () => {
      if (!outgoing.writableFinished) pump.clientLeft();
    };
    outgoing.on("drain", this.onDrain);
    outgoing.on("close", this.onClose);
  }

  write(frames: string | Uint8Array): boolean {
    return this.outgoing.write(frames);
  }

  end(tail: string | null, settled: Promise<void>): void {
    this.outgoing.off("drain", this.onDrain);
    this.outgoing.off("close", this.onClose);
    if (tail === null) return;
    void settled.then(() => {
      if (!this.outgoing.destroyed) this.outgoing.end(tail);
    });
  }

  destroy(): void {
    this.outgoing.destroy();
  }
}

/** A web ReadableStream that pulls one engine read at a time, so nothing is buffered ahead of a slow reader. */
class WebStreamSink implements FrameSink {
  readonly failureStatus = 200;
  readonly stream: ReadableStream<Uint8Array>;
  private controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  private pump: StreamPump | null = null;
  private started = false;
  private readonly encoder = new TextEncoder();

  constructor() {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => {
          if (this.started) {
            this.pump?.resume();
          } else {
            this.started = true;
            this.pump?.start();
          }
        },
        cancel: () => {
          this.pump?.clientLeft();
        },
      },
      { highWaterMark: 0 },
    );
  }

  attach(pump: StreamPump): void {
    this.pump = pump;
  }

  write(frames: string | Uint8Array): boolean {
    const controller = this.controller as ReadableStreamDefaultController<Uint8Array>;
    controller.enqueue(typeof frames === "string" ? this.encoder.encode(frames) : frames);
    return (controller.desiredSize ?? 0) > 0;
  }

  end(tail: string | null, settled: Promise<void>): void {
    void settled.then(() => {
      try {
        if (tail !== null) this.write(tail);
        this.controller?.close();
      } catch {
        // cancelled: the reader is gone
      }
    });
  }

  destroy(): void {
    this.controller?.error(new Error("the client read too little of the stream"));
  }
}

/** A non-streaming answer: the frames go nowhere, and the engine is read as fast as it writes. */
class NoClient implements FrameSink {
  readonly failureStatus = 502;

  attach(): void {}

  write(): boolean {
    return true;
  }

  end(): void {}

  destroy(): void {}
}
