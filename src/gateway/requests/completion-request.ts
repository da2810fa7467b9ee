import { errors } from "../http/gateway-error.js";
import type { ChatRequestFacts } from "./chat-request.js";
import { includeUsage, numberIn, onlyOne, positiveInt, requestObject, streamFlag } from "./field-rules.js";

/** OpenAI's (and vLLM's) max_tokens when a completion request sends none. */
export const COMPLETION_DEFAULT_MAX_TOKENS = 16;

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

/**
 * What pricing and admission need from a POST /v1/completions body (the legacy OpenAI completions API that
 * lm-eval-harness and LangChain's `OpenAI` class call); everything else goes to the engine untouched.
 */
export function parseCompletionRequest(raw: unknown): ChatRequestFacts {
  const body = requestObject(raw, "an OpenAI completion request");
  checkPrompt(body.prompt);
  const stream = streamFlag(body);
  for (const key of ["n", "best_of"]) onlyOne(body, key, "send separate requests instead");
  numberIn(body, "temperature", 0, 2);
  numberIn(body, "top_p", 0, 1);
  // The default is written out so that the engine's cap and our quote are the same number.
  const maxTokens = positiveInt(body, "max_tokens") ?? COMPLETION_DEFAULT_MAX_TOKENS;
  return { body: { ...body, max_tokens: maxTokens }, stream, maxTokens, includeUsage: includeUsage(body) };
}
