/** What one engine SSE event turns into for the client. */
export interface RelayStep {
  /** Complete "data: …\n\n" frames, "" for none; null for the event's own frame, unchanged. */
  out: string | null;
  tokens: number; // content tokens among them (TTFT / inter-token metrics)
  end?: "cut"; // stop reading: max_tokens reached with the engine still going
}

/** The answer a non-streaming client gets, and the completion tokens it is billed for. */
export interface FinalAnswer {
  body: unknown;
  completionTokens: number;
}

/**
 * How one route's client sees the engine's stream (/llm, chat, completions, responses): each event's frames, how
 * a stream closes or fails, the usage billed, and for a non-streaming client the answer built from the same events.
 */
export interface Dialect {
  onData(data: string): RelayStep;
  /** Frames that close a successful stream, before the terminator. */
  finishFrames(): string;
  /** The frame that ends a failed stream, before the terminator. */
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
  /** The non-streaming answer once the stream ended well; null when the stream carried none. */
  answer(): FinalAnswer | null;
  /** The log line when the engine ran past the token limit (the answer was cut or billed at it), else null. */
  overshoot(): string | null;
  /** Why the engine stopped (its last finish_reason, or "length" at the cut), when the dialect reads it. */
  finishReason?(): string | null;
}

export const DONE_FRAME = "data: [DONE]\n\n";

export function frame(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}
