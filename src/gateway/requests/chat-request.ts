import { errors } from "../http/gateway-error.js";
import { isRecord } from "../wire/json-values.js";
import {
  includeUsage,
  integerIn,
  numberIn,
  onlyOne,
  positiveInt,
  requestObject,
  streamFlag,
} from "./field-rules.js";

/** What pricing and admission need from an OpenAI chat completion body; the rest passes through untouched. */
export interface ChatRequestFacts {
  body: Record<string, unknown>;
  stream: boolean;
  /** max_completion_tokens, else max_tokens, else null (the engine's limit applies). */
  maxTokens: number | null;
  /** Whether the client asked for the usage chunk (stream_options.include_usage). */
  includeUsage: boolean;
}

// OpenAI's chat roles (its API answers 400 "Invalid value … Supported values are …" for any other).
const CHAT_ROLES = ["system", "user", "assistant", "tool", "function", "developer"];

function checkMessages(messages: unknown[]): void {
  messages.forEach((m, i) => {
    if (!isRecord(m)) {
      throw errors.invalidBody(`messages[${i}] must be an object with a role and content.`, "messages");
    }
    if (typeof m.role !== "string" || !CHAT_ROLES.includes(m.role)) {
      const got = typeof m.role === "string" ? `'${m.role.slice(0, 40)}'` : JSON.stringify(m.role ?? null);
      throw errors.invalidBody(
        `messages[${i}].role must be one of ${CHAT_ROLES.join(", ")} (got ${got}).`,
        "messages",
      );
    }
    const content = m.content;
    if (content !== undefined && content !== null && typeof content !== "string" && !Array.isArray(content)) {
      throw errors.invalidBody(
        `messages[${i}].content must be a string or a list of content parts (got ${typeof content}).`,
        "messages",
      );
    }
  });
}

export function parseChatRequest(raw: unknown): ChatRequestFacts {
  const body = requestObject(raw, "an OpenAI chat completion request");
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw errors.invalidBody("messages must be a non-empty list of chat messages.", "messages");
  }
  checkMessages(body.messages);
  if (body.model !== undefined && body.model !== null && typeof body.model !== "string") {
    throw errors.invalidBody(`model must be a string (got ${JSON.stringify(body.model)}).`, "model");
  }
  const stream = streamFlag(body);
  onlyOne(body, "n", "send n separate requests");
  numberIn(body, "temperature", 0, 2);
  numberIn(body, "top_p", 0, 1);
  numberIn(body, "presence_penalty", -2, 2);
  numberIn(body, "frequency_penalty", -2, 2);
  integerIn(body, "top_logprobs", 0, 20);
  // vLLM's extension: -1 (or 0) turns top-k off; int32 keeps it clear of overflow in the sampler.
  integerIn(body, "top_k", -1, 2 ** 31 - 1);
  // vLLM bounds seed to a 64-bit signed integer; past 2^53 json-body-checks.ts has refused it already.
  integerIn(body, "seed", -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const maxCompletion = positiveInt(body, "max_completion_tokens");
  const maxTokens = positiveInt(body, "max_tokens");
  return { body, stream, maxTokens: maxCompletion ?? maxTokens, includeUsage: includeUsage(body) };
}
