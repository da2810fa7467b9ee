import { EngineProtocolError } from "../wire/engine-errors.js";
import { isRecord } from "../wire/json-values.js";
import type { Dialect, FinalAnswer, RelayStep } from "./dialect.js";

// The Responses API stream (vllm/entrypoints/openai/serving_responses.py; OpenAI's "streaming events"): named
// events `event: <type>\ndata: <json with the same type>`, no [DONE]. The stream is over at its terminal event,
// whose `response` is the whole response object, usage included: the same object a non-streaming call returns.
const TERMINAL = new Set(["response.completed", "response.incomplete", "response.failed"]);
// Deltas of generated text: one per engine output step, which is what TTFT and inter-token metrics count.
const TOKEN_EVENTS = new Set([
  "response.output_text.delta",
  "response.reasoning_text.delta",
  "response.function_call_arguments.delta",
]);

export interface ResponsesUsage {
  input_tokens: number;
  output_tokens: number;
}

function messageOf(v: unknown): string {
  if (isRecord(v) && typeof v.message === "string") return v.message;
  return JSON.stringify(v);
}

/**
 * /v1/responses: the engine's Responses event stream relayed with each event's name, reading what pricing needs:
 * the usage of the terminal event (billed at most max_output_tokens), errors, and the final response object for
 * a non-streaming client.
 */
export class ResponsesDialect implements Dialect {
  readonly terminator = "";
  private final: Record<string, unknown> | null = null;
  private engineError: string | null = null;
  private deltas = 0;
  private sequence = 0;
  private usageSeen: ResponsesUsage | null = null;

  constructor(private readonly maxOutputTokens: number) {}

  onData(data: string): RelayStep {
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      throw new EngineProtocolError(
        `the engine sent a Responses event that is not JSON: ${data.slice(0, 200)}`,
      );
    }
    if (!isRecord(event))
      throw new EngineProtocolError("the engine sent a Responses event that is not an object");
    if (typeof event.sequence_number === "number") this.sequence = event.sequence_number;
    const type = typeof event.type === "string" ? event.type : null;
    if (type === null) {
      // vLLM's mid-stream failure outside the event protocol ({"error": {...}}): the client gets OpenAI's event.
      const message =
        event.error !== undefined ? messageOf(event.error) : "the engine sent an event without a type";
      this.engineError ??= message;
      return { out: this.errorFrames(`the engine reported an error: ${message}`), tokens: 0 };
    }
    if (type === "error") this.engineError ??= messageOf(event);
    if (TERMINAL.has(type) && isRecord(event.response)) this.finish(type, event.response);
    const tokens = TOKEN_EVENTS.has(type) ? 1 : 0;
    this.deltas += tokens;
    return { out: `event: ${type}\ndata: ${data}\n\n`, tokens };
  }

  private finish(type: string, response: Record<string, unknown>): void {
    this.final = response;
    const usage = isRecord(response.usage) ? response.usage : null;
    if (usage && typeof usage.input_tokens === "number" && typeof usage.output_tokens === "number") {
      this.usageSeen = { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens };
    }
    if (type === "response.failed") {
      this.engineError ??= isRecord(response.error) ? messageOf(response.error) : "the response failed";
    }
  }

  endedByEvent(): boolean {
    return this.final !== null || this.engineError !== null;
  }

  finishFrames(): string {
    return "";
  }

  /** OpenAI's `error` event: clients (openai-node, the AI SDK) raise it as the stream's error. */
  errorFrames(message: string): string {
    const event = {
      type: "error",
      code: "engine_error",
      message,
      param: null,
      sequence_number: this.sequence + 1,
    };
    return `event: error\ndata: ${JSON.stringify(event)}\n\n`;
  }

  reportedError(): string | null {
    if (this.engineError !== null) return this.engineError;
    if (this.final === null) return null;
    return this.usageSeen === null ? "the engine's final Responses event carried no usage" : null;
  }

  /** Billed usage: the engine's figures, output never above max_output_tokens. */
  usage() {
    const input = this.usageSeen?.input_tokens ?? 0;
    const output = Math.min(this.usageSeen?.output_tokens ?? this.deltas, this.maxOutputTokens);
    return { prompt_tokens: input, completion_tokens: output };
  }

  answer(): FinalAnswer | null {
    if (this.final === null) return null;
    return { body: this.final, completionTokens: this.usage().completion_tokens };
  }

  overshoot(): string | null {
    const over = (this.usageSeen?.output_tokens ?? 0) > this.maxOutputTokens;
    return over ? "the engine overshot max_output_tokens; billed at it" : null;
  }
}
