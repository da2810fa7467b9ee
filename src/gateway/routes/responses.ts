import type { Hono } from "hono";
import { ResponsesDialect } from "../dialects/responses-dialect.js";
import type { RouteDeps } from "../gateway-deps.js";
import { serveGeneration } from "../generation/serve-generation.js";
import { readJsonBody } from "../http/read-json-body.js";
import { parseResponsesRequest } from "../requests/responses-request.js";
import { responsesBlocks } from "../routing/prompt-blocks.js";
import { modelDeps } from "./model-deps.js";

const ROUTE = "/v1/responses";

/**
 * POST /v1/responses: the OpenAI Responses API, served by the engine's own /v1/responses, always asked for a
 * stream: a non-streaming client gets the response object of the terminal event, which is what the engine answers
 * without `stream`. The quote is for max_output_tokens (MAX_MODEL_LEN without it).
 */
export function registerResponses(app: Hono, runner: RouteDeps): void {
  app.post(ROUTE, async (c) => {
    const request = parseResponsesRequest(await readJsonBody(c, runner.config.maxBodyBytes));
    const deps = modelDeps(runner, request.body.model, c);
    const maxTokens = request.maxOutputTokens ?? deps.config.maxModelLen;
    return serveGeneration(c, deps, {
      route: ROUTE,
      enginePath: ROUTE,
      stream: request.stream,
      maxTokens,
      wire: "openai",
      engineBody: () => JSON.stringify({ ...request.body, stream: true }),
      promptBlocks: () => responsesBlocks(request.body),
      dialect: () => new ResponsesDialect(maxTokens),
    });
  });
}
