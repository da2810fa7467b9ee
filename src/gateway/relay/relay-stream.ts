import type { Exchange } from "../exchange/exchange.js";
import { EngineProtocolError, failureMessage } from "../wire/engine-errors.js";
import { SseParser } from "./sse-parser.js";

/** What one engine SSE event turns into for the client. */
export interface RelayStep {
  /** Complete "data: …\n\n" frames, "" for none; null for the event's own frame, unchanged. */
  out: string | null;
  tokens: number; // content tokens among them (TTFT / inter-token metrics)
  end?: "cut"; // stop reading: max_tokens reached with the engine still going
}

/** The wire dialect of one route: /llm translates chunks, /v1 relays them. */
export interface RelayProtocol {
  onData(data: string): RelayStep;
  /** Frames that close a successful stream, before `data: [DONE]`. */
  finishFrames(): string;
  /** The frame that ends a failed stream, before `data: [DONE]`. */
  errorFrames(message: string): string;
  /** An error the engine reported inside the stream (the stream is then a failure). */
  reportedError(): string | null;
  usage(): { prompt_tokens: number; completion_tokens: number };
  /**
   * For a dialect whose stream ends with its own last event instead of `data: [DONE]` (the Responses API):
   * whether that event has arrived, so the end of the body is a success. Absent: [DONE] is required.
   */
  endedByEvent?(): boolean;
  /** What follows the closing frames; default `data: [DONE]`. */
  readonly terminator?: string;
}

export const DONE_FRAME = "data: [DONE]\n\n";

export function frame(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/**
 * The state of one relayed engine SSE stream, driven by whoever reads the engine body (a Node socket writer or
 * an async generator). Each read is handled the moment it arrives and everything it produces is returned at
 * once: nothing is held back for a later read. The ledger row goes into the round's group commit before the
 * closing frames are returned; whoever sends them waits for `settled`, so it is committed before the final byte.
 */
export class StreamRelay {
  private readonly parser = new SseParser();
  /** Why reading stopped early: the engine's [DONE], or the max_tokens cut. */
  ended: "done" | "cut" | null = null;

  constructor(
    private readonly ex: Exchange,
    private readonly protocol: RelayProtocol,
    private readonly httpStatusOnError: number,
  ) {}

  /**
   * One read of the engine body: the frames it produces now ("" for none). When every event of the read goes
   * out unchanged and the read holds exactly those events, the read's own bytes are returned (nothing to
   * rebuild or re-encode). Throws on a broken stream.
   */
  push(bytes: Uint8Array): string | Uint8Array {
    this.ex.progress();
    const events = this.parser.push(bytes);
    let verbatim = this.parser.verbatim && events.length > 0;
    let out = "";
    let tokens = 0;
    for (let i = 0; i < events.length; i++) {
      const data = events[i] as string;
      if (data === "[DONE]") {
        // [DONE] goes out only after the ledger row (complete()): the frames before it are sent alone.
        if (verbatim) out = framesOf(events, i);
        verbatim = false;
        this.ended = "done";
        break;
      }
      const step = this.protocol.onData(data);
      tokens += step.tokens;
      if (step.out === null) {
        if (!verbatim) out += `data: ${data}\n\n`;
      } else {
        if (verbatim) out = framesOf(events, i);
        verbatim = false;
        out += step.out;
      }
      if (step.end) {
        this.ended = step.end;
        break;
      }
    }
    if (tokens > 0) this.ex.tokens(tokens);
    if (this.ended === null && this.protocol.endedByEvent?.()) this.ended = "done";
    return verbatim ? bytes : out;
  }

  /** Reading stopped ([DONE], the cut, or the end of the body): finishes the exchange, returns the last frames. */
  complete(): string | null {
    if (this.ended === "cut") this.ex.abort("cut", "max_tokens reached");
    if (this.ended === null && this.protocol.endedByEvent?.()) this.ended = "done";
    if (this.ended === null) {
      const ex = this.ex;
      if (ex.abortCause !== null) return this.fail(new Error(ex.abortReason ?? "aborted"));
      return this.fail(new EngineProtocolError("the engine closed the stream before sending [DONE]"));
    }
    const usage = this.protocol.usage();
    const reported = this.protocol.reportedError();
    const tail = this.protocol.finishFrames();
    this.ex.finish(
      {
        status: reported === null ? "ok" : "engine_error",
        httpStatus: reported === null ? 200 : this.httpStatusOnError,
        promptTokens: usage.prompt_tokens,
        completionTokens: usage.completion_tokens,
        error: reported,
      },
      "grouped",
    );
    return tail + (this.protocol.terminator ?? DONE_FRAME);
  }

  /**
   * The engine body failed (or carried something unusable): finishes the exchange. Returns the error frame and
   * [DONE], or null when the client is gone and nothing more can be sent.
   */
  fail(err: unknown): string | null {
    const usage = this.protocol.usage();
    if (this.ex.abortCause === "client") {
      this.clientGone();
      return null;
    }
    const message = failureMessage(this.ex, err);
    this.ex.finish(
      {
        status: "engine_error",
        httpStatus: this.httpStatusOnError,
        ...tokensOf(usage),
        error: message,
      },
      "grouped",
    );
    return this.protocol.errorFrames(message) + (this.protocol.terminator ?? DONE_FRAME);
  }

  /**
   * The client went away (or is closed for taking nothing: `reason`): the engine request is torn down at once and
   * the row says client_abort.
   */
  clientGone(reason = "client disconnected"): void {
    if (this.ex.finished) return;
    this.ex.abort("client", reason);
    this.ex.finish(
      {
        status: "client_abort",
        httpStatus: 499,
        ...tokensOf(this.protocol.usage()),
        error: reason,
      },
      "grouped",
    );
  }

  /** The writer stopped (true) or went back to (false) reading the engine because the client is not taking bytes. */
  backpressure(on: boolean): void {
    this.ex.backpressure(on);
  }

  /** Settles once the exchange's ledger row is durable (or failed): the closing frames go out only then. */
  get settled(): Promise<void> {
    return this.ex.settled;
  }
}

/**
 * The relay as an async generator of frames (app.request() responses, and /llm's non-streaming path, which
 * only drains it). A consumer that stops reading early counts as a client that went away.
 */
export async function* relayStream(
  ex: Exchange,
  upstream: { body: AsyncIterable<Uint8Array> },
  protocol: RelayProtocol,
  httpStatusOnError: number,
): AsyncGenerator<string | Uint8Array> {
  const relay = new StreamRelay(ex, protocol, httpStatusOnError);
  const reads = upstream.body[Symbol.asyncIterator]();
  let handedOff = false;
  let tail: string | null;
  try {
    for (;;) {
      const next = await reads.next();
      if (next.done) break;
      const out = relay.push(next.value);
      if (out.length > 0) yield out;
      if (relay.ended === "done") {
        // What follows [DONE] (the chunked terminator) is read in the background, so the engine connection goes
        // back to the pool: ending the iteration would destroy the body, and undici would close the socket.
        handedOff = true;
        drainInBackground(reads);
        break;
      }
      if (relay.ended !== null) break; // the cut: the engine request is torn down
    }
    tail = relay.complete();
  } catch (err) {
    tail = relay.fail(err);
  } finally {
    if (!handedOff) {
      try {
        await reads.return?.(); // tears the engine body down (the cut, or the consumer went away)
      } catch {
        // the body had already failed: nothing more to read
      }
    }
    // Reached without finishing only when the consumer stopped reading (the client went away).
    relay.clientGone();
  }
  if (tail !== null) {
    await relay.settled; // the row is committed before the final byte
    yield tail;
  }
}

function drainInBackground(reads: AsyncIterator<Uint8Array>): void {
  void (async () => {
    try {
      while (!(await reads.next()).done) {
        // nothing after [DONE] is used
      }
    } catch {
      // a body that fails after [DONE] (the engine went away) changes nothing
    }
  })();
}

/** The unchanged frames of events[0..end). */
function framesOf(events: string[], end: number): string {
  let out = "";
  for (let i = 0; i < end; i++) out += `data: ${events[i]}\n\n`;
  return out;
}

function tokensOf(usage: { prompt_tokens: number; completion_tokens: number }) {
  return { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens };
}
