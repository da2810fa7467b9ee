import { errors } from "./gateway-error.js";

/** What pricing and admission need from an OpenAI chat completion body; the rest passes through untouched. */
export interface ChatRequestFacts {
  body: Record<string, unknown>;
  stream: boolean;
  /** max_completion_tokens, else max_tokens, else null (the engine's limit applies). */
  maxTokens: number | null;
  /** Whether the client asked for the usage chunk (stream_options.include_usage). */
  includeUsage: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function positiveInt(body: Record<string, unknown>, key: string): number | null {
  const v = body[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw errors.invalidBody(`${key} must be an integer of at least 1 (got ${JSON.stringify(v)}).`, key);
  }
  return v;
}

/** OpenAI's ranges (vLLM itself accepts any temperature ≥ 0; we answer as the OpenAI API does). */
function numberIn(body: Record<string, unknown>, key: string, min: number, max: number): void {
  const v = body[key];
  if (v === undefined || v === null) return;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    throw errors.invalidBody(
      `${key} must be a number from ${min} to ${max} (got ${JSON.stringify(v)}).`,
      key,
    );
  }
}

export function parseChatRequest(body: unknown): ChatRequestFacts {
  if (!isRecord(body)) {
    throw errors.invalidBody(
      "The request body must be a JSON object (an OpenAI chat completion request).",
      null,
    );
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    throw errors.invalidBody("messages must be a non-empty list of chat messages.", "messages");
  }
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean") {
    throw errors.invalidBody(`stream must be true or false (got ${JSON.stringify(body.stream)}).`, "stream");
  }
  // Each request is priced by max_tokens for one completion; n > 1 would generate n times that.
  if (body.n !== undefined && body.n !== null && body.n !== 1) {
    throw errors.invalidBody(
      `n must be 1 on this runner (got ${JSON.stringify(body.n)}); send n separate requests.`,
      "n",
    );
  }
  numberIn(body, "temperature", 0, 2);
  numberIn(body, "top_p", 0, 1);
  const maxCompletion = positiveInt(body, "max_completion_tokens");
  const maxTokens = positiveInt(body, "max_tokens");
  const options = body.stream_options;
  if (options !== undefined && options !== null && !isRecord(options)) {
    throw errors.invalidBody("stream_options must be an object.", "stream_options");
  }
  return {
    body,
    stream: body.stream === true,
    maxTokens: maxCompletion ?? maxTokens,
    includeUsage: isRecord(options) && options.include_usage === true,
  };
}
