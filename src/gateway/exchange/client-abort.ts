// The abort path, in one place. What ends an engine request early: the client going away (its request signal,
// or the Node response closing before it finished), the engine dying (the supervisor ticket's signal), the
// runner shutting down, or max_tokens reached (cut). Each lands in Exchange.abort(cause), which aborts
// exchange.upstreamAbort, the signal of the upstream request (engine-call.ts), so the engine's body stops at
// once; a stream then ends through StreamPump.clientLeft() (relay/stream-pump.ts), which writes the client_abort row.

import type { ServerResponse } from "node:http";

/** Who ended the upstream request early. */
export type AbortCause = "client" | "engine" | "shutdown" | "cut";

/** Calls onAbort(signal.reason) when the signal aborts (at once if it already has); returns the unlink. */
export function onSignalAbort(signal: AbortSignal, onAbort: (reason: unknown) => void): () => void {
  const listener = () => onAbort(signal.reason);
  if (signal.aborted) {
    listener();
    return () => {};
  }
  signal.addEventListener("abort", listener, { once: true });
  return () => signal.removeEventListener("abort", listener);
}

/**
 * Calls onGone when the Node response closes before it finished: the client went away (the same event that
 * @hono/node-server turns into the web Request's abort, without building that Request). Returns the unlink.
 */
export function onResponseGone(outgoing: ServerResponse, onGone: () => void): () => void {
  const onClose = () => {
    if (!outgoing.writableFinished) onGone();
  };
  if (outgoing.closed) {
    onClose();
    return () => {};
  }
  outgoing.once("close", onClose);
  return () => outgoing.off("close", onClose);
}

/** The words a ledger row and a log line give an abort reason. */
export function describeAbortReason(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  if (typeof reason === "string") return reason;
  return reason === undefined ? "aborted" : String(reason);
}
