import type { Context } from "hono";
import type { RouteDeps } from "../gateway-deps.js";
import { errors } from "../http/gateway-error.js";
import { parseUsage } from "../wire/json-values.js";
import { failExchange } from "./engine-call.js";
import type { Exchange } from "./exchange.js";
import { quoteHeaders, usageHeader } from "./price-headers.js";
import { unrecorded } from "./unrecorded.js";
import type { UpstreamResponse } from "./upstream-client.js";

/**
 * Fields whose answer vLLM computes only without `stream` (prompt logprobs: lm-eval-harness's loglikelihood
 * requests send `echo` with `logprobs`, or `prompt_logprobs`). Such requests are forwarded as they are and
 * answered with the engine's JSON; they generate a token or a few, so the hang watchdog's blind spot during a
 * non-streamed answer does not matter for them.
 */
export function needsEngineJson(body: Record<string, unknown>): boolean {
  return body.echo === true || (body.prompt_logprobs !== undefined && body.prompt_logprobs !== null);
}

/** The engine's non-streaming JSON answer, passed on as it is; priced from its usage, never above maxTokens. */
export async function engineJsonAnswer(
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
  if (!ex.recorded) throw unrecorded(deps);
  return c.body(text, 200, {
    "content-type": "application/json",
    ...quoteHeaders(ex),
    ...usageHeader(deps, completion),
  });
}
