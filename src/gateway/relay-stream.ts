import { EngineProtocolError, EngineReportedError } from "./engine-chunk.js";
import type { Exchange } from "./exchange.js";
import { SseParser } from "./sse-parser.js";
import { sseResponse } from "./sse-response.js";
import type { UpstreamResponse } from "./upstream-client.js";

/** What one engine SSE event turns into for the client. */
export interface RelayStep {
  frames: string[]; // complete "data: …\n\n" frames
  tokens: number; // content tokens among them (TTFT / inter-token metrics)
  end?: "cut"; // stop reading: max_tokens reached with the engine still going
}

/** The wire dialect of one route: /llm translates chunks, /v1 relays them. */
export interface RelayProtocol {
  onData(data: string): RelayStep;
  /** Frames that close a successful stream, before `data: [DONE]`. */
  finishFrames(): string[];
  /** The frame that ends a failed stream, before `data: [DONE]`. */
  errorFrames(message: string): string[];
  /** An error the engine reported inside the stream (the stream is then a failure). */
  reportedError(): string | null;
  usage(): { prompt_tokens: number; completion_tokens: number };
}

export const DONE_FRAME = "data: [DONE]\n\n";

export function frame(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/** Why a stream failed, in words for the client's error chunk and the ledger. */
export function failureMessage(ex: Exchange, err: unknown): string {
  if (ex.abortCause === "engine") return `the engine stopped during the request (${ex.abortReason})`;
  if (ex.abortCause === "shutdown") return `the runner is shutting down (${ex.abortReason})`;
  if (err instanceof EngineReportedError) return `the engine reported an error: ${err.message}`;
  if (err instanceof EngineProtocolError) return err.message;
  return `the connection to the engine failed: ${err instanceof Error ? err.message : String(err)}`;
}

/**
 * Relays an engine SSE stream: each engine event is handled the moment its last byte arrives and what it
 * produces is yielded at once (nothing merged across reads, nothing delayed). The ledger row is written
 * before the final frames are yielded. A failure ends the stream with the protocol's error frame and
 * `[DONE]`; a client that went away gets nothing more, and its row says client_abort.
 */
export async function* relayStream(
  ex: Exchange,
  upstream: UpstreamResponse,
  protocol: RelayProtocol,
  httpStatusOnError: number,
): AsyncGenerator<string> {
  const parser = new SseParser();
  let ended: "done" | "cut" | null = null;
  try {
    for await (const bytes of upstream.body) {
      ex.progress();
      const out: string[] = [];
      let tokens = 0;
      for (const data of parser.push(bytes)) {
        if (data === "[DONE]") {
          ended = "done";
          break;
        }
        const step = protocol.onData(data);
        out.push(...step.frames);
        tokens += step.tokens;
        if (step.end) {
          ended = step.end;
          break;
        }
      }
      if (out.length > 0) {
        ex.tokens(tokens);
        yield out.join("");
      }
      if (ended) break;
    }
    if (ended === "cut") ex.abort("cut", "max_tokens reached");
    if (ended === null) {
      if (ex.abortCause !== null) throw new Error(ex.abortReason ?? "aborted");
      throw new EngineProtocolError("the engine closed the stream before sending [DONE]");
    }
    const usage = protocol.usage();
    const reported = protocol.reportedError();
    const tail = protocol.finishFrames().join("");
    ex.finish({
      status: reported === null ? "ok" : "engine_error",
      httpStatus: reported === null ? 200 : httpStatusOnError,
      promptTokens: usage.prompt_tokens,
      completionTokens: usage.completion_tokens,
      error: reported,
    });
    yield tail + DONE_FRAME;
  } catch (err) {
    const usage = protocol.usage();
    if (ex.abortCause === "client") {
      ex.finish({
        status: "client_abort",
        httpStatus: 499,
        ...tokensOf(usage),
        error: "client disconnected",
      });
      return;
    }
    const message = failureMessage(ex, err);
    ex.finish({ status: "engine_error", httpStatus: httpStatusOnError, ...tokensOf(usage), error: message });
    yield protocol.errorFrames(message).join("") + DONE_FRAME;
  } finally {
    // Reached without finishing only when the consumer stopped reading (the client went away).
    if (!ex.finished) {
      ex.abort("client", "client disconnected");
      const usage = protocol.usage();
      ex.finish({
        status: "client_abort",
        httpStatus: 499,
        ...tokensOf(usage),
        error: "client disconnected",
      });
    }
  }
}

function tokensOf(usage: { prompt_tokens: number; completion_tokens: number }) {
  return { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens };
}

/** The SSE response of a streamed exchange: a client that goes away aborts the engine request at once. */
export function streamExchange(
  ex: Exchange,
  upstream: UpstreamResponse,
  protocol: RelayProtocol,
  headers: Record<string, string>,
): Response {
  return sseResponse(
    relayStream(ex, upstream, protocol, 200),
    () => ex.abort("client", "client disconnected"),
    () => {
      if (ex.finished) return;
      const usage = protocol.usage();
      ex.finish({
        status: "client_abort",
        httpStatus: 499,
        ...tokensOf(usage),
        error: "client disconnected",
      });
    },
    headers,
  );
}
