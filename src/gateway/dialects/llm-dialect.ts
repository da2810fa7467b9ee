import { EngineReportedError } from "../wire/engine-errors.js";
import { type Dialect, type FinalAnswer, frame, type RelayStep } from "./dialect.js";
import { readEngineChunk, TextChunkScanner } from "./engine-chunk.js";
import { frameTooLong, MAX_SSE_LINE_BYTES, splitForBudget } from "./sse-line-limit.js";
import { TokenBudget } from "./token-budget.js";

const MAX_ERROR_CHARS = 4096;

export interface LlmIdentity {
  id: string; // "chatcmpl-…"
  model: string;
  created: number; // unix seconds
}

/**
 * /llm: the engine's chat.completion.chunk stream as the AI-runner's: one chunk per engine chunk, every chunk with
 * choices[0] (Livepeer's Go gateway indexes it) and cumulative usage. The engine's usage chunk (choices: [])
 * becomes the final chunk, carrying the truthful finish_reason and final usage.
 */
export class LlmDialect implements Dialect {
  readonly budget: TokenBudget;
  private text = "";
  private finalSent = false;
  /** The constant head of every chunk, serialized once: the stream's hot path only adds content and usage. */
  private readonly head: string;
  private readonly scanner = new TextChunkScanner("chat");

  constructor(
    readonly identity: LlmIdentity,
    maxTokens: number,
  ) {
    this.budget = new TokenBudget(maxTokens);
    this.head =
      `data: {"id":${JSON.stringify(identity.id)},"model":${JSON.stringify(identity.model)},` +
      `"created":${JSON.stringify(identity.created)},"choices":[{"index":0,"delta":{"role":"assistant","content":`;
  }

  onData(data: string): RelayStep {
    const chunk = readEngineChunk(data, this.scanner);
    if (chunk.error !== null) throw new EngineReportedError(chunk.error);
    if (!this.budget.accept(chunk)) return { out: this.finalFrame(), tokens: 0, end: "cut" };
    const choice = chunk.choices[0];
    if (choice) {
      this.text += choice.content;
      return { out: this.contentFrames(choice.content), tokens: choice.content === "" ? 0 : 1 };
    }
    if (chunk.usage && !this.finalSent) return { out: this.finalFrame(), tokens: 0 };
    return { out: "", tokens: 0 };
  }

  finishFrames(): string {
    return this.finalSent ? "" : this.finalFrame();
  }

  errorFrames(message: string): string {
    // An engine's error text can be long; the frame must stay one readable line (sse-line-limit.ts).
    const shown = message.length > MAX_ERROR_CHARS ? `${message.slice(0, MAX_ERROR_CHARS)}…` : message;
    return frame({ ...this.chunk("", "error"), error: { message: shown } });
  }

  reportedError(): string | null {
    return null; // an engine error event throws, ending the stream with errorFrames
  }

  usage() {
    return this.budget.usage();
  }

  answer(): FinalAnswer {
    const body = this.response();
    return { body, completionTokens: body.usage.completion_tokens };
  }

  overshoot(): string | null {
    return null; // the cut chunk says "length"; /llm logs nothing more
  }

  /** The assembled non-streaming /llm response. */
  response() {
    return {
      id: this.identity.id,
      model: this.identity.model,
      created: this.identity.created,
      usage: this.budget.usage(),
      choices: [
        {
          index: 0,
          finish_reason: this.finishReason(),
          message: { role: "assistant", content: this.text },
        },
      ],
    };
  }

  /** The finish_reason the client is told: the engine's, "length" at the cut, else "stop". */
  finishReason(): string {
    return this.budget.finishReason ?? "stop";
  }

  private finalFrame(): string {
    this.finalSent = true;
    return this.frame("", this.finishReason());
  }

  /**
   * The frame for one engine chunk's text; text too long for one SSE line (a huge token, an engine that sends a
   * whole answer at once) goes out as several frames, each a valid chunk with choices[0] and the same usage.
   */
  private contentFrames(content: string): string {
    const one = this.frame(content, "");
    if (!frameTooLong(one)) return one;
    const overhead = Buffer.byteLength(this.frame("", "")) - 2;
    return splitForBudget(content, MAX_SSE_LINE_BYTES - overhead)
      .map((piece) => this.frame(piece, ""))
      .join("");
  }

  /** frame(this.chunk(content, finishReason)), byte for byte, without serializing the constant parts. */
  private frame(content: string, finishReason: string): string {
    const u = this.budget.usage();
    return (
      `${this.head}${JSON.stringify(content)}},"finish_reason":${JSON.stringify(finishReason)}}],` +
      `"usage":{"prompt_tokens":${u.prompt_tokens},"completion_tokens":${u.completion_tokens},` +
      `"total_tokens":${u.total_tokens}}}\n\n`
    );
  }

  private chunk(content: string, finishReason: string) {
    return {
      id: this.identity.id,
      model: this.identity.model,
      created: this.identity.created,
      choices: [{ index: 0, delta: { role: "assistant", content }, finish_reason: finishReason }],
      usage: this.budget.usage(),
    };
  }
}
