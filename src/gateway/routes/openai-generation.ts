import type { Context, Hono } from "hono";
import { callEngine, type EngineRefusal, isRefusal } from "../exchange/engine-call.js";
import { engineJsonAnswer, needsEngineJson } from "../exchange/engine-json-answer.js";
import { quoteHeaders, usageHeader } from "../exchange/price-headers.js";
import { unrecorded } from "../exchange/unrecorded.js";
import type { RouteDeps } from "../gateway-deps.js";
import { errors } from "../http/gateway-error.js";
import { readJsonBody } from "../http/read-json-body.js";
import { AnswerAssembler, type CompletionKind } from "../relay/answer-assembler.js";
import { AssemblingRelay } from "../relay/assembling-relay.js";
import { OpenAiRelay } from "../relay/openai-relay.js";
import { drainRelay } from "../relay/relay-drain.js";
import { streamExchange } from "../relay/sse-writer.js";
import type { ChatRequestFacts } from "../requests/chat-request.js";

/** One OpenAI generation route and how its body is read. */
export interface GenerationRoute {
  path: "/v1/chat/completions" | "/v1/completions";
  kind: CompletionKind;
  parse(body: unknown): ChatRequestFacts;
}

/**
 * The engine body: always a stream with the usage chunk. A streaming client gets the stream relayed (the usage
 * chunk only if it asked for it); for a non-streaming client the gateway assembles the JSON answer from the
 * same stream. Asking the engine for a stream in both cases keeps the max_tokens cap, TTFT metrics, disconnect
 * handling and, above all, the hang watchdog's view of progress the same: a non-streamed answer of any length
 * shows its tokens as they are generated instead of one burst at the end. The exception: a request for prompt
 * logprobs (echo, prompt_logprobs), which vLLM answers only without a stream (engine-json-answer.ts).
 */
function engineBody(request: ChatRequestFacts): string {
  if (!request.stream && needsEngineJson(request.body)) return JSON.stringify(request.body);
  const { stream_options: clientOptions, ...rest } = request.body;
  const options =
    request.stream && typeof clientOptions === "object" && clientOptions !== null ? clientOptions : {};
  return JSON.stringify({ ...rest, stream: true, stream_options: { ...options, include_usage: true } });
}

/** vLLM's own error (already in the OpenAI shape) is passed on as the engine wrote it; anything else is a 502. */
function refusalResponse(answer: EngineRefusal): Response {
  if (answer.status !== 502 && answer.body.trim().startsWith("{")) {
    return new Response(answer.body, {
      status: answer.status,
      headers: { "content-type": "application/json" },
    });
  }
  throw errors.engineFailed(`HTTP ${answer.engineStatus}: ${answer.message}`);
}

/**
 * Registers POST `path`: auth and the body limit are applied by the gateway; here the request is parsed,
 * priced (max_tokens; without it MAX_MODEL_LEN for chat, the engine's most), admitted and relayed.
 */
export function registerOpenAiGeneration(app: Hono, deps: RouteDeps, spec: GenerationRoute): void {
  app.post(spec.path, async (c: Context) => {
    const request = spec.parse(await readJsonBody(c, deps.config.maxBodyBytes));
    const maxTokens = request.maxTokens ?? deps.config.maxModelLen;
    const ex = deps.exchanges.begin({ route: spec.path, stream: request.stream, maxTokens });
    const answer = await callEngine(c, ex, deps, engineBody(request), spec.path);
    if (isRefusal(answer)) return refusalResponse(answer);
    const relay = new OpenAiRelay(maxTokens, request.includeUsage, spec.kind);
    if (request.stream) return streamExchange(c, ex, answer, relay, quoteHeaders(ex), deps.writeTimeout);
    if (needsEngineJson(request.body)) return engineJsonAnswer(c, ex, deps, answer, maxTokens);

    const assembler = new AnswerAssembler(spec.kind, deps.config.modelId, deps.clock);
    await drainRelay(ex, answer, new AssemblingRelay(relay, assembler), 502); // the assembler keeps the answer
    if (ex.outcome === "client_abort") throw errors.clientClosed();
    if (ex.outcome !== "ok") throw errors.engineFailed(ex.failure ?? "unknown failure");
    if (!ex.recorded) throw unrecorded(deps);
    if (relay.budget.overshoot) {
      deps.logger.warn(
        { requestId: ex.id, session: ex.sessionId, maxTokens },
        "the engine overshot max_tokens; the answer was cut there",
      );
    }
    const usage = relay.budget.usage();
    const fallbackId = `${spec.kind === "chat" ? "chatcmpl" : "cmpl"}-${ex.id}`;
    return c.json(assembler.response(usage, fallbackId), 200, {
      ...quoteHeaders(ex),
      ...usageHeader(deps, usage.completion_tokens),
    });
  });
}
