import type { Context, Hono } from "hono";
import { contextFitPlan } from "../exchange/context-fit.js";
import { callEngine, isRefusal } from "../exchange/engine-call.js";
import { quoteHeaders, usageHeader } from "../exchange/price-headers.js";
import { unrecorded } from "../exchange/unrecorded.js";
import type { RouteDeps } from "../gateway-deps.js";
import { errors, GatewayError } from "../http/gateway-error.js";
import { readJsonBody } from "../http/read-json-body.js";
import { LlmRelay } from "../relay/llm-relay.js";
import { drainRelay } from "../relay/relay-drain.js";
import { streamExchange } from "../relay/sse-writer.js";
import { parseLlmRequest } from "../requests/llm-request.js";

/**
 * POST /llm (and /llm/): the Livepeer AI-runner endpoint. The engine is always asked for a stream, so the
 * max_tokens cap, TTFT and client-disconnect handling work the same for streaming and non-streaming clients.
 */
export function registerLlm(app: Hono, deps: RouteDeps): void {
  const handler = async (c: Context) => {
    const request = parseLlmRequest(await readJsonBody(c, deps.config.maxBodyBytes), deps.config.modelId);
    const ex = deps.exchanges.begin({ route: "/llm", stream: request.stream, maxTokens: request.max_tokens });
    const engineBody = (maxTokens: number) =>
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
    // The quote stays max_tokens (what the orchestrator charges); the engine may be asked for less (context-fit.ts).
    const plan = contextFitPlan({
      upstream: deps.upstream,
      modelId: deps.config.modelId,
      maxModelLen: deps.config.maxModelLen,
      messages: request.messages,
      maxTokens: request.max_tokens,
      requestId: ex.id,
      body: engineBody,
    });
    const answer = await callEngine(c, ex, deps, plan);
    if (isRefusal(answer)) {
      const code = answer.status === 502 ? "engine_error" : "engine_rejected";
      throw new GatewayError(answer.status, code, `The engine refused the request: ${answer.message}`);
    }
    const relay = new LlmRelay(
      { id: `chatcmpl-${ex.id}`, model: deps.config.modelId, created: Math.floor(deps.clock() / 1000) },
      request.max_tokens,
    );
    if (request.stream) {
      return streamExchange(c, ex, answer, relay, quoteHeaders(ex), deps.writeTimeout);
    }
    // The frames are for streaming clients; the relay assembles the JSON response from the same chunks.
    await drainRelay(ex, answer, relay, 502);
    if (ex.outcome === "client_abort") throw errors.clientClosed();
    if (ex.outcome !== "ok") throw errors.engineFailed(ex.failure ?? "unknown failure");
    if (!ex.recorded) throw unrecorded(deps);
    const response = relay.response();
    return c.json(response, 200, {
      ...quoteHeaders(ex),
      ...usageHeader(deps, response.usage.completion_tokens),
    });
  };
  app.post("/llm", handler);
  app.post("/llm/", handler);
}
