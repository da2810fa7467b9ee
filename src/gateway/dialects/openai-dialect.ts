import { EngineProtocolError } from "../wire/engine-errors.js";
import { isRecord } from "../wire/json-values.js";
import type { AnswerAssembler } from "./answer-assembler.js";
import { type Dialect, type FinalAnswer, frame, type RelayStep } from "./dialect.js";
import { type CompletionKind, parseEngineChunk, type TextChunk, TextChunkScanner } from "./engine-chunk.js";
import { TokenBudget } from "./token-budget.js";

// Text chunks go out as the engine wrote them (out: null); shared, as nothing downstream changes a step.
const TEXT_STEP: RelayStep = { out: null, tokens: 1 };
const EMPTY_STEP: RelayStep = { out: null, tokens: 0 };

/** A non-streaming client's answer: the assembler, and the id it gets when the engine sent none. */
export interface Assembly {
  assembler: AnswerAssembler;
  fallbackId: string;
}

/**
 * /v1/chat/completions and /v1/completions: the engine's OpenAI stream relayed as the engine wrote it, reading
 * only what pricing and the max_tokens cap need (the first chunk and any chunk with usage, an error or a
 * finish_reason are parsed; plain text chunks are scanned). The usage chunk the gateway asked for is passed on
 * only when the client asked for it too. With an Assembly, every chunk let through also builds the JSON answer.
 */
export class OpenAiDialect implements Dialect {
  readonly budget: TokenBudget;
  private engineError: string | null = null;
  private parsedOne = false;
  private readonly scanner: TextChunkScanner;
  private last: { id: string | null; created: number | null; model: string | null } = {
    id: null,
    created: null,
    model: null,
  };

  constructor(
    maxTokens: number,
    private readonly clientWantsUsage: boolean,
    private readonly kind: CompletionKind = "chat",
    private readonly assembly: Assembly | null = null,
  ) {
    this.budget = new TokenBudget(maxTokens);
    this.scanner = new TextChunkScanner(kind);
  }

  onData(data: string): RelayStep {
    // The first chunk is parsed in full (the cut chunk's head comes from it); later ones are scanned first.
    const scanned = this.parsedOne ? this.scanner.scan(data) : null;
    const step = this.relayed(data, scanned);
    if (this.assembly !== null) this.assemble(this.assembly.assembler, data, step, scanned);
    return step;
  }

  private relayed(data: string, scanned: TextChunk | null): RelayStep {
    if (scanned !== null && scanned.usage === null) {
      const hasText = scanned.hasText;
      if (!this.budget.acceptText(hasText)) return this.cut();
      return hasText ? TEXT_STEP : EMPTY_STEP;
    }
    return this.parsed(data);
  }

  private parsed(data: string): RelayStep {
    const chunk = parseEngineChunk(data);
    this.parsedOne = true;
    if (chunk.error !== null) {
      this.engineError ??= chunk.error;
      return EMPTY_STEP;
    }
    if (chunk.id !== null) this.last = { id: chunk.id, created: chunk.created, model: chunk.model };
    if (!this.budget.accept(chunk)) return this.cut();
    if (chunk.choices.length === 0 && chunk.usage !== null) {
      return this.clientWantsUsage ? EMPTY_STEP : { out: "", tokens: 0 };
    }
    const content = chunk.choices[0]?.content ?? "";
    return content === "" ? EMPTY_STEP : TEXT_STEP;
  }

  /** Adds what the client would have been sent to the answer; nothing is sent until it is whole. */
  private assemble(
    assembler: AnswerAssembler,
    data: string,
    step: RelayStep,
    scanned: TextChunk | null,
  ): void {
    if (step.end === "cut") {
      assembler.cutAtLength();
      return;
    }
    // The usual text chunk is read by the scan; the first chunk (the answer's head) and anything else in full.
    if (assembler.hasHead() && scanned?.plain && scanned.usage === null) {
      assembler.addText(scanned.literal);
      return;
    }
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      throw new EngineProtocolError(`the engine sent an SSE event that is not JSON: ${data.slice(0, 200)}`);
    }
    if (isRecord(chunk) && !("error" in chunk)) assembler.add(chunk);
  }

  /** The chunk that ends a reply the engine let run past max_tokens. */
  private cut(): RelayStep {
    const choice =
      this.kind === "chat"
        ? { index: 0, delta: {}, logprobs: null, finish_reason: "length" }
        : { index: 0, text: "", logprobs: null, finish_reason: "length", stop_reason: null };
    const cut = {
      id: this.last.id,
      object: this.kind === "chat" ? "chat.completion.chunk" : "text_completion",
      created: this.last.created,
      model: this.last.model,
      choices: [choice],
    };
    return { out: frame(cut), tokens: 0, end: "cut" };
  }

  finishFrames(): string {
    return "";
  }

  errorFrames(message: string): string {
    return frame({ error: { message, type: "EngineError", param: null, code: 502 } });
  }

  reportedError(): string | null {
    return this.engineError;
  }

  usage() {
    return this.budget.usage();
  }

  answer(): FinalAnswer | null {
    if (this.assembly === null) return null;
    const usage = this.budget.usage();
    return {
      body: this.assembly.assembler.response(usage, this.assembly.fallbackId),
      completionTokens: usage.completion_tokens,
    };
  }

  finishReason(): string | null {
    return this.budget.finishReason;
  }

  overshoot(): string | null {
    return this.budget.overshoot ? "the engine overshot max_tokens; the answer was cut there" : null;
  }
}
