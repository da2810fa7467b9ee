import type { Hono } from "hono";
import type { RouteDeps } from "../gateway-deps.js";
import { parseChatRequest } from "../requests/chat-request.js";
import { registerOpenAiGeneration } from "./openai-generation.js";

/**
 * POST /v1/chat/completions: the client's OpenAI body goes to the engine unchanged except that the engine is
 * always asked for a stream with the usage chunk (see openai-generation.ts). Without max_tokens the quote is
 * for MAX_MODEL_LEN tokens, the most the engine can generate.
 */
export function registerChatCompletions(app: Hono, deps: RouteDeps): void {
  registerOpenAiGeneration(app, deps, {
    path: "/v1/chat/completions",
    kind: "chat",
    parse: parseChatRequest,
  });
}
