import { errors } from "../http/gateway-error.js";
import type { ChatRequestFacts } from "./chat-request.js";

/** OpenAI's (and vLLM's) max_tokens when a completion request sends none. */
export const COMPLETION_DEFAULT_MAX_TOKENS = 16;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isTokenIds(v: unknown): boolean {
  return Array.isArray(v) && v.length > 0 && v.every((t) => Number.isInteger(t) && (t as number) >= 0);
}

/** One prompt: a string, a list of token ids, or a one-item list of either (how clients batch one prompt). */
function checkPrompt(prompt: unknown): void {
  if (typeof prompt === "string" || isTokenIds(prompt)) return;
  if (
    Array.isArray(prompt) &&
    prompt.length === 1 &&
    (typeof prompt[0] === "string" || isTokenIds(prompt[0]))
  )
    return;
  if (Array.isArray(prompt) && prompt.length > 1) {
    throw errors.invalidBody(
      `prompt must be one prompt on this runner (got a list of ${prompt.length}); send one request per prompt, each priced by its own max_tokens.`,
      "prompt",
    );
  }
  throw errors.invalidBody(
    "prompt is required: a string, or a list of token ids (an OpenAI completion request).",
    "prompt",
  );
}

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

/**
 * What pricing and admission need from a POST /v1/completions body (the legacy OpenAI completions API that
 * lm-eval-harness and LangChain's `OpenAI` class call); everything else goes to the engine untouched.
 */
export function parseCompletionRequest(body: unknown): ChatRequestFacts {
  if (!isRecord(body)) {
    throw errors.invalidBody("The request body must be a JSON object (an OpenAI completion request).", null);
  }
  checkPrompt(body.prompt);
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean") {
    throw errors.invalidBody(`stream must be true or false (got ${JSON.stringify(body.stream)}).`, "stream");
  }
  for (const key of ["n", "best_of"]) {
    const v = body[key];
    if (v !== undefined && v !== null && v !== 1) {
      throw errors.invalidBody(
        `${key} must be 1 on this runner (got ${JSON.stringify(v)}); send separate requests instead.`,
        key,
      );
    }
  }
  numberIn(body, "temperature", 0, 2);
  numberIn(body, "top_p", 0, 1);
  const max = body.max_tokens;
  if (max !== undefined && max !== null && (typeof max !== "number" || !Number.isInteger(max) || max < 1)) {
    throw errors.invalidBody(
      `max_tokens must be an integer of at least 1 (got ${JSON.stringify(max)}).`,
      "max_tokens",
    );
  }
  const options = body.stream_options;
  if (options !== undefined && options !== null && !isRecord(options)) {
    throw errors.invalidBody("stream_options must be an object.", "stream_options");
  }
  return {
    // The default is written out so that the engine's cap and our quote are the same number.
    body: { ...body, max_tokens: typeof max === "number" ? max : COMPLETION_DEFAULT_MAX_TOKENS },
    stream: body.stream === true,
    maxTokens: typeof max === "number" ? max : COMPLETION_DEFAULT_MAX_TOKENS,
    includeUsage: isRecord(options) && options.include_usage === true,
  };
}
