import { Readable } from "node:stream";
import type { RelayTrace } from "../../telemetry/request-trace.js";
import { type Dialect, DONE_FRAME } from "../dialects/dialect.js";
import type { Exchange } from "../exchange/exchange.js";
import { EngineProtocolError, failureMessage } from "../wire/engine-errors.js";
import { SseParser } from "./sse-parser.js";
import type { WaitingWrite, WriteTimeout } from "./write-timeout.js";

/** Where a pumped stream's frames go: the client's socket, a web stream, or nowhere (an assembled answer). */
export interface FrameSink {
  /** The status a failed stream's row records: what the client was (or will be) sent. */
  readonly failureStatus: number;
  /** Called once by the pump: the sink tells it when the client drains or leaves. */
  attach(pump: StreamPump): void;
  /** One engine read's frames; false when the client is full (the pump pauses the engine until resume()). */
  write(frames: string | Uint8Array): boolean;
  /** The stream is over: `tail` (the closing frames) goes out once `settled` (the ledger row is durable); null: nothing more. */
  end(tail: string | null, settled: Promise<void>): void;
  /** Closes the client for taking nothing in CLIENT_WRITE_TIMEOUT. */
  destroy(): void;
}

/**
 * One engine stream driven through a route's dialect into a sink: every read is handed on the moment it arrives,
 * a full client pauses the engine body (the ticket is then held by backpressure, not hung, and CLIENT_WRITE_TIMEOUT
 * runs), and every way the stream ends (the engine's [DONE], the max_tokens cut, an engine failure, the client
 * leaving) finishes the exchange once. The row goes into the round's group commit before the closing frames,
 * which the sink sends once it is durable.
 */
export class StreamPump {
  /** Why reading stopped early: the engine's [DONE], or the max_tokens cut. */
  ended: "done" | "cut" | null = null;
  /** Settles once the exchange is finished and, when there are closing frames, its row is durable. */
  readonly done: Promise<void>;
  private readonly parser = new SseParser();
  private source: BodySource | null = null;
  private over = false;
  private paused = false;
  private readAny = false;
  private readonly waiting: WaitingWrite;
  private settle: () => void = () => {};

  constructor(
    private readonly ex: Exchange,
    private readonly dialect: Dialect,
    private readonly sink: FrameSink,
    private readonly body: AsyncIterable<Uint8Array>,
    private readonly writeTimeout: WriteTimeout | null = null,
    private readonly relay: RelayTrace | null = null,
  ) {
    this.done = new Promise((resolve) => {
      this.settle = resolve;
    });
    this.waiting = {
      since: 0,
      requestId: ex.id,
      expire: () => {
        this.clientLeft(writeTimeout?.reason);
        sink.destroy();
      },
    };
    sink.attach(this);
  }

  /** Starts reading the engine body: at once for a socket or no client, at the first read of a web stream. */
  start(): void {
    if (this.source !== null || this.over) return;
    this.source = bodySource(this.body, {
      data: (bytes) => this.onRead(bytes),
      end: () => this.finish(this.completeOrFail()),
      error: (err) => this.finish(this.fail(err)),
    });
  }

  /** The client took the frames written so far: reading goes on. */
  resume(): void {
    if (!this.paused || this.over) return;
    this.paused = false;
    this.writeTimeout?.done(this.waiting);
    this.ex.backpressure(false);
    this.source?.resume();
  }

  /**
   * The client went away (or is closed for taking nothing: `reason`): the engine request is torn down at once and
   * the row says client_abort.
   */
  clientLeft(reason = "client disconnected"): void {
    if (!this.over) this.relay?.clientLeft(reason);
    if (!this.ex.finished) {
      this.ex.abort("client", reason);
      this.ex.finish(
        { status: "client_abort", httpStatus: 499, ...tokensOf(this.dialect.usage()), error: reason },
        "grouped",
      );
    }
    this.finish(null);
  }

  /**
   * One read of the engine body: the frames it produces now ("" for none). When every event of the read goes
   * out unchanged and the read holds exactly those events, the read's own bytes are returned (nothing to
   * rebuild or re-encode). Throws on a broken stream.
   */
  push(bytes: Uint8Array): string | Uint8Array {
    this.ex.progress();
    if (!this.readAny) {
      this.readAny = true;
      this.ex.trace.firstChunk();
    }
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
      const step = this.dialect.onData(data);
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
    if (this.ended === null && this.dialect.endedByEvent?.()) this.ended = "done";
    return verbatim ? bytes : out;
  }

  /** Reading stopped ([DONE], the cut, or the end of the body): finishes the exchange, returns the last frames. */
  complete(): string | null {
    if (this.ended === "cut") this.ex.abort("cut", "max_tokens reached");
    if (this.ended === null && this.dialect.endedByEvent?.()) this.ended = "done";
    if (this.ended === null) {
      if (this.ex.abortCause !== null) return this.fail(new Error(this.ex.abortReason ?? "aborted"));
      return this.fail(new EngineProtocolError("the engine closed the stream before sending [DONE]"));
    }
    const usage = this.dialect.usage();
    const reported = this.dialect.reportedError();
    const tail = this.dialect.finishFrames();
    this.ex.finish(
      {
        status: reported === null ? "ok" : "engine_error",
        httpStatus: reported === null ? 200 : this.sink.failureStatus,
        promptTokens: usage.prompt_tokens,
        completionTokens: usage.completion_tokens,
        error: reported,
        finishReason: this.dialect.finishReason?.() ?? null,
      },
      "grouped",
    );
    return tail + (this.dialect.terminator ?? DONE_FRAME);
  }

  /**
   * The engine body failed (or carried something unusable): finishes the exchange. Returns the error frame and
   * the terminator, or null when the client is gone and nothing more can be sent.
   */
  fail(err: unknown): string | null {
    if (this.ex.abortCause === "client") {
      this.clientLeft();
      return null;
    }
    const message = failureMessage(this.ex, err);
    this.ex.finish(
      {
        status: "engine_error",
        httpStatus: this.sink.failureStatus,
        ...tokensOf(this.dialect.usage()),
        error: message,
      },
      "grouped",
    );
    return this.dialect.errorFrames(message) + (this.dialect.terminator ?? DONE_FRAME);
  }

  private onRead(bytes: Uint8Array): void {
    let out: string | Uint8Array;
    try {
      out = this.push(bytes);
    } catch (err) {
      this.finish(this.fail(err));
      return;
    }
    if (out.length > 0) {
      this.relay?.wrote(out);
      if (!this.sink.write(out) && this.ended === null) this.pause();
    }
    if (this.ended !== null) this.finish(this.completeOrFail());
  }

  private completeOrFail(): string | null {
    try {
      return this.complete();
    } catch (err) {
      return this.fail(err);
    }
  }

  private pause(): void {
    this.paused = true;
    this.relay?.paused();
    this.source?.pause();
    this.ex.backpressure(true);
    this.writeTimeout?.wait(this.waiting);
  }

  /** The one way a pumped stream ends: reading stops, and the sink gets the closing frames (or nothing). */
  private finish(tail: string | null): void {
    if (this.over) return;
    this.over = true;
    if (this.paused) this.writeTimeout?.done(this.waiting);
    // After [DONE] the rest (the chunked terminator) is read so the engine connection goes back to the pool; any
    // other end destroys the body, which tears the engine request down.
    this.source?.stop(this.ended === "done");
    const settled = tail === null ? Promise.resolve() : this.ex.settled;
    this.sink.end(tail, settled);
    if (this.relay !== null) {
      const relay = this.relay;
      if (tail !== null) relay.wrote(tail);
      void settled.then(() => relay.end());
    }
    void settled.then(this.settle);
  }
}

interface BodyHandlers {
  data(bytes: Uint8Array): void;
  end(): void;
  error(err: unknown): void;
}

interface BodySource {
  pause(): void;
  resume(): void;
  /** Reading is over: drain what is left (true) or tear the body down (false). */
  stop(drainRest: boolean): void;
}

/** An undici body (a Node Readable) is read by its events, with no promise per read; anything else by iteration. */
function bodySource(body: AsyncIterable<Uint8Array>, on: BodyHandlers): BodySource {
  if (body instanceof Readable && !body.destroyed && !body.readableEnded) return readableSource(body, on);
  return iterableSource(body, on);
}

function readableSource(body: Readable, on: BodyHandlers): BodySource {
  const onData = (bytes: Buffer) => on.data(bytes);
  const onEnd = () => on.end();
  const onError = (err: unknown) => on.error(err);
  // Destroyed without an error (no end, no error): what the async iterator reports as a premature close.
  const onClose = () => on.error(new Error("Premature close"));
  body.on("data", onData);
  body.on("end", onEnd);
  body.on("error", onError);
  body.on("close", onClose);
  return {
    pause: () => body.pause(),
    resume: () => body.resume(),
    stop(drainRest) {
      body.off("data", onData);
      body.off("end", onEnd);
      body.off("error", onError);
      body.off("close", onClose);
      body.on("error", ignore); // a body torn down now errors, as expected
      if (drainRest) body.resume();
      else body.destroy();
    },
  };
}

function iterableSource(body: AsyncIterable<Uint8Array>, on: BodyHandlers): BodySource {
  const reads = body[Symbol.asyncIterator]();
  let paused = false;
  let stopped = false;
  let wake: (() => void) | null = null;
  const resume = () => {
    paused = false;
    const w = wake;
    wake = null;
    w?.();
  };
  void (async () => {
    try {
      for (;;) {
        while (paused && !stopped) await new Promise<void>((r) => (wake = r));
        if (stopped) return;
        const next = await reads.next();
        if (stopped) return;
        if (next.done) return on.end();
        on.data(next.value);
      }
    } catch (err) {
      if (!stopped) on.error(err);
    }
  })();
  return {
    pause: () => {
      paused = true;
    },
    resume,
    stop(drainRest) {
      stopped = true;
      resume();
      if (drainRest) drainInBackground(reads);
      else reads.return?.().catch(ignore);
    },
  };
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

function ignore(): void {}

/** The unchanged frames of events[0..end). */
function framesOf(events: string[], end: number): string {
  let out = "";
  for (let i = 0; i < end; i++) out += `data: ${events[i]}\n\n`;
  return out;
}

function tokensOf(usage: { prompt_tokens: number; completion_tokens: number }) {
  return { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens };
}
