import { isRecord, type TokenUsage } from "../wire/json-values.js";
import type { CompletionKind } from "./engine-chunk.js";

interface ToolCallParts {
  id: string | null;
  type: string;
  name: string;
  arguments: string;
}

/** vLLM's completion logprobs: four parallel arrays, each chunk carrying its tokens' entries. */
interface TextLogprobs {
  text_offset: unknown[];
  token_logprobs: unknown[];
  tokens: unknown[];
  top_logprobs: unknown[];
}

/**
 * Builds the non-streaming OpenAI answer from the engine's stream, in the shape vLLM gives when asked without
 * `stream` (vllm/entrypoints/openai/protocol.py: ChatCompletionResponse, CompletionResponse): text, reasoning,
 * tool calls and logprobs concatenated in order, the last finish_reason and stop_reason, the usage we bill.
 * The gateway streams from the engine internally so the hang watchdog sees every token of a long answer.
 */
export class AnswerAssembler {
  private id: string | null = null;
  private created: number | null = null;
  private model: string | null = null;
  private text = "";
  private reasoning: string | null = null;
  private readonly toolCalls = new Map<number, ToolCallParts>();
  private chatLogprobs: unknown[] | null = null;
  private textLogprobs: TextLogprobs | null = null;
  private finishReason: string | null = null;
  private stopReason: unknown = null;
  /** The engine's prompt_tokens_details (cached_tokens, with --enable-prompt-tokens-details), as it sent them. */
  private promptDetails: Record<string, unknown> | null = null;

  constructor(
    readonly kind: CompletionKind,
    private readonly fallbackModel: string,
    private readonly clock: () => number,
  ) {}

  /** One engine chunk (already parsed). Error events and chunks without choices only carry usage: ignored. */
  add(chunk: Record<string, unknown>): void {
    if (typeof chunk.id === "string") this.id ??= chunk.id;
    if (typeof chunk.created === "number") this.created ??= chunk.created;
    if (typeof chunk.model === "string") this.model ??= chunk.model;
    if (isRecord(chunk.usage) && isRecord(chunk.usage.prompt_tokens_details))
      this.promptDetails = chunk.usage.prompt_tokens_details;
    if (!Array.isArray(chunk.choices)) return;
    for (const choice of chunk.choices) {
      if (!isRecord(choice) || (choice.index !== undefined && choice.index !== 0)) continue;
      if (this.kind === "chat") this.addDelta(isRecord(choice.delta) ? choice.delta : {});
      else if (typeof choice.text === "string") this.text += choice.text;
      this.addLogprobs(choice.logprobs);
      if (typeof choice.finish_reason === "string" && choice.finish_reason !== "") {
        this.finishReason = choice.finish_reason;
        this.stopReason = choice.stop_reason ?? null;
      }
    }
  }

  /** Whether the answer's id, created and model are known: a later chunk's head would not change them. */
  hasHead(): boolean {
    return this.id !== null && this.created !== null && this.model !== null;
  }

  /** A chunk whose only content is this text of choice 0 (scanTextChunk): what add() would make of it. */
  addText(text: string): void {
    this.text += text;
  }

  /** The engine ran past max_tokens and the gateway cut the answer there. */
  cutAtLength(): void {
    this.finishReason = "length";
    this.stopReason = null;
  }

  private addDelta(delta: Record<string, unknown>): void {
    if (typeof delta.content === "string") this.text += delta.content;
    const reasoning = typeof delta.reasoning_content === "string" ? delta.reasoning_content : delta.reasoning;
    if (typeof reasoning === "string") this.reasoning = (this.reasoning ?? "") + reasoning;
    if (!Array.isArray(delta.tool_calls)) return;
    for (const call of delta.tool_calls) {
      if (!isRecord(call)) continue;
      const index = typeof call.index === "number" ? call.index : this.toolCalls.size;
      const parts = this.toolCalls.get(index) ?? { id: null, type: "function", name: "", arguments: "" };
      if (typeof call.id === "string") parts.id = call.id;
      if (typeof call.type === "string") parts.type = call.type;
      const fn = isRecord(call.function) ? call.function : {};
      if (typeof fn.name === "string") parts.name += fn.name;
      if (typeof fn.arguments === "string") parts.arguments += fn.arguments;
      this.toolCalls.set(index, parts);
    }
  }

  private addLogprobs(logprobs: unknown): void {
    if (!isRecord(logprobs)) return;
    if (this.kind === "chat") {
      if (Array.isArray(logprobs.content)) {
        this.chatLogprobs = [...(this.chatLogprobs ?? []), ...logprobs.content];
      }
      return;
    }
    if (this.textLogprobs === null) {
      this.textLogprobs = { text_offset: [], token_logprobs: [], tokens: [], top_logprobs: [] };
    }
    const into = this.textLogprobs;
    for (const key of ["text_offset", "token_logprobs", "tokens", "top_logprobs"] as const) {
      const part = logprobs[key];
      if (Array.isArray(part)) into[key].push(...part);
    }
  }

  /** The answer, with the usage the gateway bills (the engine's figures, never above max_tokens). */
  response(usage: TokenUsage, fallbackId: string): Record<string, unknown> {
    const finish = this.finishReason ?? "stop";
    const choice =
      this.kind === "chat"
        ? {
            index: 0,
            message: {
              role: "assistant",
              content: this.text,
              refusal: null,
              annotations: null,
              audio: null,
              function_call: null,
              tool_calls: [...this.toolCalls.entries()]
                .sort(([a], [b]) => a - b)
                .map(([, c]) => ({
                  id: c.id,
                  type: c.type,
                  function: { name: c.name, arguments: c.arguments },
                })),
              reasoning_content: this.reasoning,
            },
            logprobs: this.chatLogprobs === null ? null : { content: this.chatLogprobs },
            finish_reason: finish,
            stop_reason: this.stopReason,
          }
        : {
            index: 0,
            text: this.text,
            logprobs: this.textLogprobs,
            finish_reason: finish,
            stop_reason: this.stopReason,
            prompt_logprobs: null,
          };
    return {
      id: this.id ?? fallbackId,
      object: this.kind === "chat" ? "chat.completion" : "text_completion",
      created: this.created ?? Math.floor(this.clock() / 1000),
      model: this.model ?? this.fallbackModel,
      choices: [choice],
      service_tier: null,
      system_fingerprint: null,
      usage: {
        prompt_tokens: usage.prompt_tokens,
        total_tokens: usage.total_tokens,
        completion_tokens: usage.completion_tokens,
        prompt_tokens_details: this.promptDetails,
      },
      ...(this.kind === "chat" ? { prompt_logprobs: null } : {}),
      kv_transfer_params: null,
    };
  }
}
