import { parseEngineChunk } from "./engine-chunk.js";
import { frame, type RelayProtocol, type RelayStep } from "./relay-stream.js";
import { TokenBudget } from "./token-budget.js";

/**
 * Relays the engine's OpenAI stream as the engine wrote it, reading only what pricing and the max_tokens cap
 * need. The usage chunk the gateway asked for is passed on only when the client asked for it too.
 */
export class OpenAiRelay implements RelayProtocol {
  readonly budget: TokenBudget;
  private engineError: string | null = null;
  private last: { id: string | null; created: number | null; model: string | null } = {
    id: null,
    created: null,
    model: null,
  };

  constructor(
    maxTokens: number,
    private readonly clientWantsUsage: boolean,
  ) {
    this.budget = new TokenBudget(maxTokens);
  }

  onData(data: string): RelayStep {
    const chunk = parseEngineChunk(data);
    const raw = `data: ${data}\n\n`;
    if (chunk.error !== null) {
      this.engineError ??= chunk.error;
      return { frames: [raw], tokens: 0 };
    }
    if (chunk.id !== null) this.last = { id: chunk.id, created: chunk.created, model: chunk.model };
    if (!this.budget.accept(chunk)) {
      const cut = {
        id: this.last.id,
        object: "chat.completion.chunk",
        created: this.last.created,
        model: this.last.model,
        choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "length" }],
      };
      return { frames: [frame(cut)], tokens: 0, end: "cut" };
    }
    if (chunk.choices.length === 0 && chunk.usage !== null) {
      return { frames: this.clientWantsUsage ? [raw] : [], tokens: 0 };
    }
    const content = chunk.choices[0]?.content ?? "";
    return { frames: [raw], tokens: content === "" ? 0 : 1 };
  }

  finishFrames(): string[] {
    return [];
  }

  errorFrames(message: string): string[] {
    return [frame({ error: { message, type: "EngineError", param: null, code: 502 } })];
  }

  reportedError(): string | null {
    return this.engineError;
  }

  usage() {
    return this.budget.usage();
  }
}
