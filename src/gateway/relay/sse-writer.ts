import type { ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import type { Context } from "hono";
import type { Exchange } from "../exchange/exchange.js";
import type { UpstreamResponse } from "../exchange/upstream-client.js";
import { nodeBindings } from "../http/node-bindings.js";
import { type RelayProtocol, relayStream, StreamRelay } from "./relay-stream.js";
import type { WaitingWrite, WriteTimeout } from "./write-timeout.js";

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

/**
 * The SSE response of a streamed exchange. Under Node the frames are written straight to the socket: one
 * write per engine read, in the same tick it arrives, with the engine body paused while the client is slow.
 * What waits for a slow client is bounded: the socket's high-water mark plus one engine read. While paused, the
 * supervisor's ticket is marked as held by backpressure (not an engine hang), and a client that takes nothing
 * for CLIENT_WRITE_TIMEOUT is closed. Under app.request() (tests) the same relay feeds a web ReadableStream.
 * Either way a client that goes away aborts the engine request at once.
 */
export function streamExchange(
  c: Context,
  ex: Exchange,
  upstream: UpstreamResponse,
  protocol: RelayProtocol,
  headers: Record<string, string>,
  writeTimeout: WriteTimeout,
): Response {
  const node = nodeBindings(c);
  if (node === null) return webSseResponse(ex, upstream, protocol, headers);
  const relay = new StreamRelay(ex, protocol, 200);
  node.outgoing.writeHead(200, { ...SSE_HEADERS, ...headers });
  // Headers go out now, as they did before the first frame: clients see the stream open at once.
  node.outgoing.flushHeaders();
  const writer = { outgoing: node.outgoing, relay, writeTimeout, requestId: ex.id };
  if (upstream.body instanceof Readable) relayReadable(writer, upstream.body);
  else void relayIterable(writer, upstream.body);
  return RESPONSE_ALREADY_SENT;
}

interface Writer {
  outgoing: ServerResponse;
  relay: StreamRelay;
  writeTimeout: WriteTimeout;
  requestId: string;
}

/** The undici body: event-driven, no promise per read. */
function relayReadable({ outgoing, relay, writeTimeout, requestId }: Writer, body: Readable): void {
  let over = false;
  let paused = false;
  const waiting: WaitingWrite = {
    since: 0,
    requestId,
    expire: () => {
      relay.clientGone(writeTimeout.reason);
      end(null);
      outgoing.destroy();
    },
  };
  const end = (tail: string | null) => {
    if (over) return;
    over = true;
    if (paused) writeTimeout.done(waiting);
    body.off("data", onData);
    body.off("end", onEnd);
    body.off("error", onError);
    outgoing.off("drain", onDrain);
    outgoing.off("close", onClose);
    // Whatever follows [DONE] (the chunked terminator) is drained so the connection goes back to the pool;
    // an aborted body (cut, client gone) errors, which is expected now.
    body.on("error", ignore);
    body.resume();
    // The closing frames wait for the row's group commit: it is durable before the final byte.
    if (tail !== null) void relay.settled.then(() => outgoing.end(tail));
  };
  const onData = (bytes: Buffer) => {
    let out: string | Uint8Array;
    try {
      out = relay.push(bytes);
    } catch (err) {
      end(relay.fail(err));
      return;
    }
    if (out.length > 0 && !outgoing.write(out) && relay.ended === null) {
      body.pause();
      paused = true;
      relay.backpressure(true);
      writeTimeout.wait(waiting);
    }
    if (relay.ended !== null) end(relay.complete());
  };
  const onDrain = () => {
    if (!paused) return;
    paused = false;
    writeTimeout.done(waiting);
    relay.backpressure(false);
    body.resume();
  };
  const onEnd = () => end(relay.complete());
  const onError = (err: unknown) => end(relay.fail(err));
  const onClose = () => {
    if (outgoing.writableFinished) return;
    relay.clientGone();
    end(null);
  };
  body.on("data", onData);
  body.on("end", onEnd);
  body.on("error", onError);
  outgoing.on("drain", onDrain);
  outgoing.on("close", onClose);
}

/** Any other body (scripted engines in tests): the same relay, one read at a time. */
async function relayIterable(
  { outgoing, relay, writeTimeout, requestId }: Writer,
  body: AsyncIterable<Uint8Array>,
): Promise<void> {
  const onClose = () => {
    if (!outgoing.writableFinished) relay.clientGone();
  };
  outgoing.on("close", onClose);
  let expired = false;
  const waiting: WaitingWrite = {
    since: 0,
    requestId,
    expire: () => {
      expired = true;
      relay.clientGone(writeTimeout.reason);
      outgoing.destroy();
    },
  };
  let tail: string | null;
  try {
    for await (const bytes of body) {
      const out = relay.push(bytes);
      if (out.length > 0 && !outgoing.write(out) && relay.ended === null) {
        relay.backpressure(true);
        writeTimeout.wait(waiting);
        await drained(outgoing);
        if (expired) break;
        writeTimeout.done(waiting);
        relay.backpressure(false);
      }
      if (relay.ended !== null) break;
    }
    tail = relay.complete();
  } catch (err) {
    tail = relay.fail(err);
  }
  outgoing.off("close", onClose);
  if (tail !== null) await relay.settled;
  if (tail !== null && !outgoing.destroyed) outgoing.end(tail);
}

function drained(outgoing: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      outgoing.off("drain", done);
      outgoing.off("close", done);
      resolve();
    };
    outgoing.on("drain", done);
    outgoing.on("close", done);
  });
}

function ignore(): void {}

/**
 * A text/event-stream Response fed by the relay generator. The stream pulls one item per read, so nothing is
 * buffered ahead of a slow client; a cancel (the client went away) aborts the upstream request, which
 * unblocks the generator, then closes it so its cleanup writes the row.
 */
function webSseResponse(
  ex: Exchange,
  upstream: UpstreamResponse,
  protocol: RelayProtocol,
  headers: Record<string, string>,
): Response {
  const frames = relayStream(ex, upstream, protocol, 200);
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await frames.next();
          if (next.done) controller.close();
          else controller.enqueue(typeof next.value === "string" ? encoder.encode(next.value) : next.value);
        } catch (err) {
          try {
            controller.error(err);
          } catch {
            // already cancelled
          }
        }
      },
      async cancel() {
        ex.abort("client", "client disconnected");
        await frames.return(undefined);
        // A generator closed before its first pull never ran its cleanup.
        new StreamRelay(ex, protocol, 200).clientGone();
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: 200, headers: { ...SSE_HEADERS, ...headers } });
}
