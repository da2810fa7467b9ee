import { parseEngineChunk, scanTextChunk } from "./engine-chunk.js";
import { frame, type RelayProtocol, type RelayStep } from "./relay-stream.js";
import { TokenBudget } from "./token-budget.js";

// Text chunks go out as the engine wrote them (out: null); shared, as nothing downstream changes a step.
const TEXT_STEP: RelayStep = { out: null, tokens: 1 };
const EMPTY_STEP: RelayStep = { out: null, tokens: 0 };

/**
 * Relays the engine's OpenAI stream as the engine wrote it, reading only what pricing and the max_tokens cap
 * need: the first chunk and any chunk with usage, an error or a finish_reason are parsed; plain text chunks
 * are only scanned for whether they carry text. The usage chunk the gateway asked for is passed on only when
 * the client asked for it too.
 */
export class OpenAiRelay implements RelayProtocol {
  readonly budget: TokenBudget;
  private engineError: string | null = null;
  private parsedOne = false;
  private last: { id: string | null; created: number | null; model: string | null } = {
    id: null,
    created: null,
    model: null,
  };

  constructor(
    maxTokens: number,
    private readonly clientWantsUsage: boolean,
    private readonly kind: "chat" | "completion" = "chat",
  ) {
    this.budget = new TokenBudget(maxTokens);
  }

  onData(data: string): RelayStep {
    if (this.parsedOne) {
      const hasText = scanTextChunk(data);
      if (hasText !== null) {
        if (!this.budget.acceptText(hasText)) return this.cut();
        return hasText ? TEXT_STEP : EMPTY_STEP;
      }
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
}
