import type { Context, Hono } from "hono";
import { LlmDialect } from "../dialects/llm-dialect.js";
import { contextFitPlan } from "../exchange/context-fit.js";
import type { RouteDeps } from "../gateway-deps.js";
import { serveGeneration } from "../generation/serve-generation.js";
import { readJsonBody } from "../http/read-json-body.js";
import { parseLlmRequest } from "../requests/llm-request.js";
import { chatBlocks } from "../routing/prompt-blocks.js";
import { sessionModel } from "./model-deps.js";

/** POST /llm (and /llm/): the Livepeer AI-runner endpoint, served from the engine's chat completions stream. */
export function registerLlm(app: Hono, runner: RouteDeps): void {
  const handler = async (c: Context) => {
    const request = parseLlmRequest(await readJsonBody(c, runner.config.maxBodyBytes), runner.served.ids);
    // The model it names (checked above), or the default one; a Live Runner session's model only (model-deps.ts).
    const deps = runner.served.lookup(sessionModel(c, request.model)) as RouteDeps;
    const body = (maxTokens: number) =>
      JSON.stringify({
        model: deps.config.modelId,
        messages: request.messages,
        temperature: request.temperature,
        top_p: request.top_p,
        top_k: request.top_k,
        max_tokens: maxTokens,
        stream: true,
        stream_options: { include_usage: true, continuous_usage_stats: true },
      });
    return serveGeneration(c, deps, {
      route: "/llm",
      enginePath: "/v1/chat/completions",
      stream: request.stream,
      maxTokens: request.max_tokens,
      wire: "ai-runner",
      promptBlocks: () => chatBlocks({ messages: request.messages }),
      // The quote stays max_tokens (what the orchestrator charges); the engine may be asked for less (context-fit.ts).
      engineBody: (ex) =>
        contextFitPlan({
          upstream: deps.upstream,
          modelId: deps.config.modelId,
          maxModelLen: deps.config.maxModelLen,
          messages: request.messages,
          maxTokens: request.max_tokens,
          requestId: ex.id,
          body,
        }),
      dialect: (ex) =>
        new LlmDialect(
          { id: `chatcmpl-${ex.id}`, model: deps.config.modelId, created: Math.floor(deps.clock() / 1000) },
          request.max_tokens,
        ),
    });
  };
  app.post("/llm", handler);
  app.post("/llm/", handler);
}
