import { Readable } from "node:stream";
import type { Exchange } from "../exchange/exchange.js";
import { type RelayProtocol, relayStream, StreamRelay } from "./relay-stream.js";

const ignore = () => {};

/**
 * Reads an engine stream to its end for a non-streaming answer: the protocol keeps what the answer needs, the
 * frames are dropped, the exchange is finished, and the promise settles once its ledger row is durable (or
 * failed). The same reading as relayStream, without an async iterator over the body and a generator step and
 * promise per read: an undici body (a Node Readable) is read by its events, like sse-writer.ts's relayReadable.
 * After [DONE] the rest of the body is read in the background, so the engine connection goes back to the pool;
 * after a cut or a failure the body is destroyed, which tears the engine request down.
 */
export async function drainRelay(
  ex: Exchange,
  upstream: { body: AsyncIterable<Uint8Array> },
  protocol: RelayProtocol,
  httpStatusOnError: number,
): Promise<void> {
  const body = upstream.body;
  if (!(body instanceof Readable) || body.destroyed || body.readableEnded) {
    for await (const _ of relayStream(ex, upstream, protocol, httpStatusOnError)) {
      // frames are for streaming clients
    }
    return;
  }
  const relay = new StreamRelay(ex, protocol, httpStatusOnError);
  const tail = await new Promise<string | null>((resolve) => {
    const end = (last: string | null) => {
      body.off("data", onData);
      body.off("end", onEnd);
      body.off("error", onError);
      body.off("close", onClose);
      body.on("error", ignore); // a body torn down now errors, as expected
      if (relay.ended === "done") body.resume();
      else body.destroy();
      resolve(last);
    };
    const onData = (bytes: Buffer) => {
      let last: string | null;
      try {
        relay.push(bytes);
        if (relay.ended === null) return;
        last = relay.complete();
      } catch (err) {
        last = relay.fail(err);
      }
      end(last);
    };
    const onEnd = () => {
      let last: string | null;
      try {
        last = relay.complete();
      } catch (err) {
        last = relay.fail(err);
      }
      end(last);
    };
    const onError = (err: unknown) => end(relay.fail(err));
    // Destroyed without an error (no end, no error): what the async iterator reports as a premature close.
    const onClose = () => end(relay.fail(new Error("Premature close")));
    body.on("data", onData);
    body.on("end", onEnd);
    body.on("error", onError);
    body.on("close", onClose);
  });
  if (tail !== null) await relay.settled; // as relayStream: the answer goes out once its row is committed
}
