import type { Hono } from "hono";
import type { RouteDeps } from "../gateway-deps.js";
import { parseCompletionRequest } from "../requests/completion-request.js";
import { registerOpenAiGeneration } from "./openai-generation.js";

/**
 * POST /v1/completions: the legacy OpenAI completions API (lm-eval-harness, LangChain's `OpenAI` class), served
 * like chat completions. Without max_tokens the quote is for 16 tokens, OpenAI's and vLLM's default.
 */
export function registerCompletions(app: Hono, deps: RouteDeps): void {
  registerOpenAiGeneration(app, deps, {
    path: "/v1/completions",
    kind: "completion",
    parse: parseCompletionRequest,
  });
}
