// The one flow of a generation route (/llm, chat, completions, responses): open the exchange, call the engine,
// then stream to the client or build its one answer. Billing, refusals and withholding are decided here only.
import type { Context } from "hono";
import { formatPrice, type PriceRate, priceTokens } from "../../pricing/price.js";
import type { Dialect } from "../dialects/dialect.js";
import type { BodyPlan } from "../exchange/context-fit.js";
import { callEngine, type EngineRefusal, failExchange, isRefusal } from "../exchange/engine-call.js";
import type { Exchange } from "../exchange/exchange.js";
import type { UpstreamResponse } from "../exchange/upstream-client.js";
import type { RouteDeps } from "../gateway-deps.js";
import type { WireShape } from "../http/error-response.js";
import { errors, GatewayError } from "../http/gateway-error.js";
import { requestTraceOf } from "../http/trace-requests.js";
import { readForAnswer, streamToClient, whenSent } from "../relay/frame-sinks.js";
import { hashesPrompts } from "../routing/route-hint.js";
import { parseUsage } from "../wire/json-values.js";

/** One parsed generation request, as its route tells the flow. */
export interface Generation {
  /** The route, for metrics and the ledger row. */
  route: string;
  /** The engine's path that serves it. */
  enginePath: string;
  stream: boolean;
  /** The tokens the quote is for. */
  maxTokens: number;
  /** How the route's errors read: an engine refusal is worded for it. */
  wire: WireShape;
  /** The engine body, once the exchange is open (its id names a context-fit's /tokenize call). */
  engineBody(ex: Exchange): string | BodyPlan;
  /** The stream's dialect; made once the engine accepted the request. */
  dialect(ex: Exchange): Dialect;
  /** The engine answers JSON itself (a non-streamed request for prompt logprobs): passed on as it is. */
  engineJson?: boolean;
  /** The GenAI operation, for the request's trace (default "chat"). */
  operation?: "chat" | "text_completion";
  /** The prompt's block chain (routing/prompt-blocks.ts), asked for only when the prefix router uses it. */
  promptBlocks?: () => Int32Array;
}

export async function serveGeneration(c: Context, deps: RouteDeps, g: Generation): Promise<Response> {
  const trace = requestTraceOf(c);
  trace.validated(g, deps.config.modelId);
  const ex = deps.exchanges.begin({ route: g.route, stream: g.stream, maxTokens: g.maxTokens, trace });
  const hashing = hashesPrompts(deps.config.router, deps.supervisor.readyEngines?.() ?? 1);
  const blocks = hashing ? g.promptBlocks?.() : undefined;
  const answer = await callEngine(c, ex, deps, g.engineBody(ex), g.enginePath, blocks);
  if (isRefusal(answer)) return refusalResponse(answer, g.wire);
  if (g.stream) return streamToClient(c, ex, answer, g.dialect(ex), quoteHeaders(ex), deps.writeTimeout);
  if (g.engineJson) return engineJsonAnswer(c, ex, deps, answer, g.maxTokens);

  const dialect = g.dialect(ex);
  await readForAnswer(ex, answer, dialect);
  if (ex.outcome === "client_abort") throw errors.clientClosed();
  if (ex.outcome !== "ok") throw errors.engineFailed(ex.failure ?? "unknown failure");
  const final = dialect.answer();
  if (final === null) throw errors.engineFailed("the engine's stream ended without a final response");
  withholdUnlessRecorded(ex, deps);
  const overshoot = dialect.overshoot();
  if (overshoot !== null) {
    deps.logger.warn({ requestId: ex.id, session: ex.sessionId, maxTokens: g.maxTokens }, overshoot);
  }
  const text = JSON.stringify(final.body);
  traceAnswer(c, ex, text);
  return c.body(text, 200, {
    "content-type": "application/json",
    ...answerHeaders(ex, deps.rate, final.completionTokens),
  });
}

/**
 * The engine's refusal on the route's wire. /llm: a GatewayError (its status then folds for go-livepeer). /v1:
 * vLLM's own error (already in the OpenAI shape) passed on as the engine wrote it; anything else a 502.
 */
function refusalResponse(answer: EngineRefusal, wire: WireShape): Response {
  if (wire === "ai-runner") {
    const code = answer.status === 502 ? "engine_error" : "engine_rejected";
    throw new GatewayError(answer.status, code, `The engine refused the request: ${answer.message}`);
  }
  if (answer.status !== 502 && answer.body.trim().startsWith("{")) {
    return new Response(answer.body, {
      status: answer.status,
      headers: { "content-type": "application/json" },
    });
  }
  throw errors.engineFailed(`HTTP ${answer.engineStatus}: ${answer.message}`);
}

/** The engine's non-streaming JSON answer, passed on as it is; priced from its usage, never above maxTokens. */
async function engineJsonAnswer(
  c: Context,
  ex: Exchange,
  deps: RouteDeps,
  answer: UpstreamResponse,
  maxTokens: number,
): Promise<Response> {
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
  if (usage === null)
    deps.logger.warn({ requestId: ex.id, session: ex.sessionId }, "the engine's response carried no usage");
  const reported = usage?.completion_tokens ?? 0;
  if (reported > maxTokens) {
    deps.logger.warn(
      { requestId: ex.id, session: ex.sessionId, reported, maxTokens },
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
  withholdUnlessRecorded(ex, deps);
  traceAnswer(c, ex, text);
  return c.body(text, 200, {
    "content-type": "application/json",
    ...answerHeaders(ex, deps.rate, completion),
  });
}

/** A non-streaming answer's relay in the request's trace: its bytes, until the response has gone out. */
function traceAnswer(c: Context, ex: Exchange, text: string): void {
  const relay = ex.trace.relay(false);
  if (relay === null) return;
  relay.wrote(text);
  whenSent(c, (delivered) => {
    if (!delivered) relay.clientLeft("client disconnected");
    relay.end();
  });
}

/** A finished non-streaming answer whose ledger row failed is withheld (a 503), not served unrecorded. */
function withholdUnlessRecorded(ex: Exchange, deps: RouteDeps): void {
  if (ex.recorded) return;
  throw errors.ledgerUnwritable(
    deps.ledger.unwritable?.() ?? "the request's ledger row could not be written",
  );
}

/** x-request-id, x-llm-price-quote and x-llm-currency: sent on every priced response, streams included. */
function quoteHeaders(ex: Exchange): Record<string, string> {
  return {
    "x-request-id": ex.id,
    "x-llm-price-quote": formatPrice(ex.quote),
    "x-llm-currency": ex.currency,
  };
}

/** The quote headers and x-llm-price-usage, the price of the completion tokens billed (non-streaming answers). */
function answerHeaders(ex: Exchange, rate: PriceRate, completionTokens: number): Record<string, string> {
  return { ...quoteHeaders(ex), "x-llm-price-usage": formatPrice(priceTokens(completionTokens, rate)) };
}
