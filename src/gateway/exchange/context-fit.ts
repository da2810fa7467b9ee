import type { EngineEndpoint } from "../../supervisor/types.js";
import { errors, GatewayError } from "../http/gateway-error.js";
import { engineErrorMessage } from "../wire/engine-errors.js";
import type { UpstreamClient } from "./upstream-client.js";

/** How callEngine builds the engine body when max_tokens may run past the context. */
export interface BodyPlan {
  /** The body to send first. */
  first(endpoint: EngineEndpoint, signal: AbortSignal): Promise<string>;
  /** After an engine 400: the body to send instead, or null to pass the engine's refusal on. */
  afterRefusal(endpoint: EngineEndpoint, signal: AbortSignal): Promise<string | null>;
}

export interface ContextFitInput {
  upstream: UpstreamClient;
  modelId: string;
  maxModelLen: number;
  messages: Array<{ role: string; content: string }>;
  maxTokens: number;
  requestId: string;
  /** The engine body for a given max_tokens. */
  body(maxTokens: number): string;
}

/**
 * /llm serves a max_tokens past the context up to the context end, as the AI-runner does: the engine is asked for
 * min(max_tokens, context − prompt tokens) and ends with "length". The prompt is counted by the engine's own
 * /tokenize, and only when the clamp can matter: before the first send when max_tokens ≥ MAX_MODEL_LEN (it cannot
 * fit next to any prompt), else only after an engine 400 (then sent again clamped, or the refusal stands), so the
 * usual request pays nothing. A prompt that alone fills the context is a 400.
 */
export function contextFitPlan(input: ContextFitInput): BodyPlan {
  const clamped = async (endpoint: EngineEndpoint, signal: AbortSignal): Promise<string | null> => {
    const { count, maxModelLen } = await countPromptTokens(input, endpoint, signal);
    const room = maxModelLen - count;
    if (room < 1) {
      throw errors.invalidBody(
        `The prompt is ${count} tokens, which fills the model's context of ${maxModelLen} tokens (MAX_MODEL_LEN) with no room for an answer; shorten the messages.`,
        "messages",
      );
    }
    return room < input.maxTokens ? input.body(room) : null;
  };
  return {
    async first(endpoint, signal) {
      if (input.maxTokens < input.maxModelLen) return input.body(input.maxTokens);
      return (await clamped(endpoint, signal)) ?? input.body(input.maxTokens);
    },
    async afterRefusal(endpoint, signal) {
      try {
        return await clamped(endpoint, signal);
      } catch (err) {
        // The engine's refusal stands when the count itself fails; an abort or our own 400 goes on.
        if (signal.aborted || err instanceof GatewayError) throw err;
        return null;
      }
    },
  };
}

/** The prompt's token count from the engine's POST /tokenize (vLLM's TokenizeChatRequest: model + messages). */
async function countPromptTokens(
  input: ContextFitInput,
  endpoint: EngineEndpoint,
  signal: AbortSignal,
): Promise<{ count: number; maxModelLen: number }> {
  const res = await input.upstream.send({
    endpoint,
    method: "POST",
    path: "/tokenize",
    body: JSON.stringify({ model: input.modelId, messages: input.messages, add_generation_prompt: true }),
    requestId: `${input.requestId}-tokenize`,
    signal,
  });
  const text = await res.text();
  if (res.status !== 200) {
    throw new Error(`/tokenize answered HTTP ${res.status}: ${engineErrorMessage(text)}`);
  }
  const parsed = JSON.parse(text) as { count?: unknown; max_model_len?: unknown };
  if (typeof parsed.count !== "number" || !Number.isInteger(parsed.count) || parsed.count < 0) {
    throw new Error(`/tokenize answered without a token count: ${text.slice(0, 200)}`);
  }
  // The engine's own limit when it reports one (vLLM does); MAX_MODEL_LEN otherwise.
  const engineLen = parsed.max_model_len;
  const maxModelLen = typeof engineLen === "number" && engineLen > 0 ? engineLen : input.maxModelLen;
  return { count: parsed.count, maxModelLen };
}
