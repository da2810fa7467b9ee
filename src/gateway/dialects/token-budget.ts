import type { EngineChunk } from "./engine-chunk.js";

/**
 * Counts the completion tokens relayed so far and enforces max_tokens: engines have been seen overshooting it,
 * and a client must never receive (or pay for) more than it asked for. A chunk with content counts as one
 * token unless the engine reports a running usage figure.
 */
export class TokenBudget {
  promptTokens = 0;
  completionTokens = 0;
  finishReason: string | null = null;
  /** The engine's own final completion_tokens, when it sent a usage chunk. */
  reportedCompletion: number | null = null;
  overshoot = false;

  constructor(readonly maxTokens: number) {}

  /**
   * Accounts one chunk of the first choice. Returns false when relaying its content would exceed max_tokens:
   * the caller drops the chunk and ends the response with finish_reason "length".
   */
  accept(chunk: EngineChunk): boolean {
    if (chunk.usage) {
      this.promptTokens = chunk.usage.prompt_tokens;
      if (chunk.choices.length === 0) this.reportedCompletion = chunk.usage.completion_tokens;
    }
    const choice = chunk.choices[0];
    if (!choice) return true;
    if (choice.content !== "") {
      const counted = chunk.usage ? chunk.usage.completion_tokens : this.completionTokens + 1;
      if (counted > this.maxTokens) {
        this.overshoot = true;
        this.finishReason = "length";
        return false;
      }
      this.completionTokens = Math.max(this.completionTokens, counted);
    }
    if (choice.finishReason !== null) this.finishReason = choice.finishReason;
    return true;
  }

  /** A chunk known to carry no usage and no finish_reason, only (or no) text: as accept(), without parsing. */
  acceptText(hasText: boolean): boolean {
    if (!hasText) return true;
    const counted = this.completionTokens + 1;
    if (counted > this.maxTokens) {
      this.overshoot = true;
      this.finishReason = "length";
      return false;
    }
    this.completionTokens = counted;
    return true;
  }

  /** The completion tokens to report and bill: the engine's figure when it sent one, never above max_tokens. */
  get billedCompletion(): number {
    if (this.overshoot) return Math.min(this.completionTokens, this.maxTokens);
    const figure = this.reportedCompletion ?? this.completionTokens;
    return Math.min(figure, this.maxTokens);
  }

  usage(): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
    const completion = this.billedCompletion;
    return {
      prompt_tokens: this.promptTokens,
      completion_tokens: completion,
      total_tokens: this.promptTokens + completion,
    };
  }
}
