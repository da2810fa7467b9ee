import type { Hono } from "hono";
import { callEngine, isRefusal } from "../exchange/engine-call.js";
import { quoteHeaders, usageHeader } from "../exchange/price-headers.js";
import { unrecorded } from "../exchange/unrecorded.js";
import type { RouteDeps } from "../gateway-deps.js";
import { errors } from "../http/gateway-error.js";
import { readJsonBody } from "../http/read-json-body.js";
import { drainRelay } from "../relay/relay-drain.js";
import { ResponsesRelay } from "../relay/responses-relay.js";
import { streamExchange } from "../relay/sse-writer.js";
import { parseResponsesRequest } from "../requests/responses-request.js";

const ROUTE = "/v1/responses";

/**
 * POST /v1/responses: the OpenAI Responses API, served by the engine's own /v1/responses. As for chat, the
 * engine is always asked for a stream: a streaming client gets its events relayed; a non-streaming client gets
 * the response object of the terminal event, which is what the engine answers without `stream`. The quote is
 * for max_output_tokens (MAX_MODEL_LEN without it); usage comes from the terminal event.
 */
export function registerResponses(app: Hono, deps: RouteDeps): void {
  app.post(ROUTE, async (c) => {
    const request = parseResponsesRequest(await readJsonBody(c, deps.config.maxBodyBytes));
    const maxTokens = request.maxOutputTokens ?? deps.config.maxModelLen;
    const ex = deps.exchanges.begin({ route: ROUTE, stream: request.stream, maxTokens });
    const answer = await callEngine(c, ex, deps, JSON.stringify({ ...request.body, stream: true }), ROUTE);
    if (isRefusal(answer)) {
      if (answer.status !== 502 && answer.body.trim().startsWith("{")) {
        return new Response(answer.body, {
          status: answer.status,
          headers: { "content-type": "application/json" },
        });
      }
      throw errors.engineFailed(`HTTP ${answer.engineStatus}: ${answer.message}`);
    }
    const relay = new ResponsesRelay(maxTokens);
    if (request.stream) return streamExchange(c, ex, answer, relay, quoteHeaders(ex), deps.writeTimeout);

    await drainRelay(ex, answer, relay, 502); // the terminal event carries the whole response
    if (ex.outcome === "client_abort") throw errors.clientClosed();
    const response = relay.response();
    if (ex.outcome !== "ok" || response === null) {
      throw errors.engineFailed(ex.failure ?? "the engine's stream ended without a final response");
    }
    if (!ex.recorded) throw unrecorded(deps);
    if (relay.overshoot) {
      deps.logger.warn(
        { requestId: ex.id, session: ex.sessionId, maxTokens },
        "the engine overshot max_output_tokens; billed at it",
      );
    }
    return c.json(response, 200, {
      ...quoteHeaders(ex),
      ...usageHeader(deps, relay.usage().completion_tokens),
    });
  });
}
