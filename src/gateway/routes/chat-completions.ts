import type { Hono } from "hono";
import { parseChatRequest } from "../chat-request.js";
import { callEngine, failExchange, isRefusal } from "../engine-call.js";
import { parseUsage } from "../engine-chunk.js";
import type { RouteDeps } from "../gateway-deps.js";
import { errors } from "../gateway-error.js";
import { OpenAiRelay } from "../openai-relay.js";
import { quoteHeaders, usageHeader } from "../price-headers.js";
import { readJsonBody } from "../read-json-body.js";
import { streamExchange } from "../sse-response.js";
import { unrecorded } from "../unrecorded.js";

const ROUTE = "/v1/chat/completions";

/**
 * POST /v1/chat/completions: the client's OpenAI body goes to the engine unchanged except that streams always
 * ask for the usage chunk (pricing needs it; the client only sees it if it asked). Without max_tokens the quote
 * is for MAX_MODEL_LEN tokens, the most the engine can generate.
 */
export function registerChatCompletions(app: Hono, deps: RouteDeps): void {
  app.post(ROUTE, async (c) => {
    const chat = parseChatRequest(await readJsonBody(c, deps.config.maxBodyBytes));
    const maxTokens = chat.maxTokens ?? deps.config.maxModelLen;
    const ex = deps.exchanges.begin({ route: ROUTE, stream: chat.stream, maxTokens });
    const body = chat.stream
      ? {
          ...chat.body,
          stream_options: {
            ...((chat.body.stream_options as object | undefined) ?? {}),
            include_usage: true,
          },
        }
      : chat.body;
    const answer = await callEngine(c, ex, deps, JSON.stringify(body));
    if (isRefusal(answer)) {
      if (answer.status !== 502 && answer.body.trim().startsWith("{")) {
        // vLLM's error is already in the OpenAI shape: pass it on as the engine wrote it.
        return new Response(answer.body, {
          status: answer.status,
          headers: { "content-type": "application/json" },
        });
      }
      throw errors.engineFailed(`HTTP ${answer.engineStatus}: ${answer.message}`);
    }
    if (chat.stream) {
      const relay = new OpenAiRelay(maxTokens, chat.includeUsage);
      return streamExchange(c, ex, answer, relay, quoteHeaders(ex));
    }
    let text: string;
    try {
      text = await answer.text();
    } catch (err) {
      throw failExchange(ex, err, errors.engineFailed);
    }
    let usage = null;
    try {
      usage = parseUsage((JSON.parse(text) as { usage?: unknown }).usage);
    } catch {
      // not JSON: priced as zero usage below, and logged
    }
    if (usage === null) deps.logger.warn({ requestId: ex.id }, "the engine's response carried no usage");
    const reported = usage?.completion_tokens ?? 0;
    if (reported > maxTokens) {
      deps.logger.warn(
        { requestId: ex.id, reported, maxTokens },
        "the engine overshot max_tokens; billed at max_tokens",
      );
    }
    const completion = Math.min(reported, maxTokens);
    ex.finish({
      status: "ok",
      httpStatus: 200,
      promptTokens: usage?.prompt_tokens ?? 0,
      completionTokens: completion,
    });
    if (!ex.recorded) throw unrecorded(deps);
    return new Response(text, {
      status: 200,
      headers: { "content-type": "application/json", ...quoteHeaders(ex), ...usageHeader(deps, completion) },
    });
  });
}
