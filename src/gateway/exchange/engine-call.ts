import type { Context } from "hono";
import type { RouteHint } from "../../supervisor/routing/route-decision.js";
import { livepeerSessionOf } from "../http/access.js";
import { errors, GatewayError } from "../http/gateway-error.js";
import { nodeBindings } from "../http/node-bindings.js";
import { routeHint } from "../routing/route-hint.js";
import { engineErrorMessage, failureMessage } from "../wire/engine-errors.js";
import type { AdmissionPort, AdmittedRequest } from "./admission.js";
import type { BodyPlan } from "./context-fit.js";
import type { Exchange } from "./exchange.js";
import type { UpstreamClient, UpstreamResponse } from "./upstream-client.js";

/** The engine answered with an error status before producing anything. */
export interface EngineRefusal {
  refused: true;
  status: number; // the status to send the client
  engineStatus: number;
  body: string; // the engine's error body (vLLM's OpenAI shape)
  message: string;
}

// An engine 4xx describes the client's request (context too long, bad parameter, unknown model): passed on as
// it is. Except 401/403/407: the engine refusing *our* key is our fault, not the client's. 5xx becomes a 502.
const OUR_FAULT = new Set([401, 403, 407]);
const isClientStatus = (status: number) => status >= 400 && status < 500 && !OUR_FAULT.has(status);

/** What callEngine needs of the gateway: a slot, and a way to the engine. */
export interface EngineAccess {
  admission: AdmissionPort;
  upstream: UpstreamClient;
  /** The ready engines (REPLICAS): a request moves to another only when there is one. */
  supervisor?: { readyEngines?(): number };
}

/**
 * Admits the request (429/503 otherwise), sends it to the engine's `path` on the ticket's endpoint, and returns the
 * engine's 200 response, or its refusal. A BodyPlan builds the body once the engine is known and may send it
 * again, once, after an engine 400 (context-fit.ts). Every way out that ends the exchange writes its ledger row first.
 * `blocks`: the prompt's block chain for the prefix router; the router's decision is on the ticket (`route`).
 */
export async function callEngine(
  c: Context,
  ex: Exchange,
  engine: EngineAccess,
  body: string | BodyPlan,
  path = "/v1/chat/completions",
  blocks?: Int32Array,
): Promise<UpstreamResponse | EngineRefusal> {
  // Watched before admission: a client gone while its request waits for a slot leaves the queue.
  const node = nodeBindings(c);
  if (node) ex.watchResponse(node.outgoing);
  else ex.watchClient(c.req.raw.signal);
  // Proxied for a Live Runner session (access.ts): the ledger row and logs name it, and a persistent session's
  // requests stay on one replica (its prefix cache), as do those with the same X-Session-Affinity.
  const session = livepeerSessionOf(c);
  if (session) ex.sessionId = session.id;
  ex.trace.opened(ex.id, ex.sessionId);
  ex.trace.queued(engine.admission);
  // A request whose engine fails before answering anything (its replica just died: the supervisor has not seen
  // the exit yet) is admitted once more, to another ready replica (retarget): the failed one is suspect and gets
  // nothing new until checked. With one engine it fails as before (502).
  let res: UpstreamResponse | null = null;
  let text: string | null = null;
  for (let attempt = 1; res === null; attempt++) {
    const admitted = await admit(ex, engine, routeHint(c, session, blocks));
    try {
      ({ res, text } = await exchangeWith(ex, engine, admitted, body, path));
    } catch (err) {
      if (err instanceof GatewayError && ex.abortCause === null) {
        ex.finish({ status: "rejected", httpStatus: err.status, error: err.message });
        throw err;
      }
      const others = (engine.supervisor?.readyEngines?.() ?? 1) > 1;
      if (attempt === 1 && others && ex.abortCause !== "client") {
        const message = failureMessage(ex, err);
        if (ex.retarget()) {
          ex.trace.retried(message);
          continue;
        }
      }
      throw failExchange(ex, err, errors.engineUnreachable);
    }
  }
  ex.progress();
  ex.trace.engineAnswered(res.status);
  if (res.status === 200) return res;
  text ??= await readText(res);
  const message = engineErrorMessage(text);
  const passOn = isClientStatus(res.status);
  ex.finish({
    status: passOn ? "rejected" : "engine_error",
    httpStatus: passOn ? res.status : 502,
    error: `engine HTTP ${res.status}: ${message}`,
  });
  return { refused: true, status: passOn ? res.status : 502, engineStatus: res.status, body: text, message };
}

/** A slot for the request (its ticket attached to the exchange), or the refusal, its ledger row written. */
async function admit(ex: Exchange, engine: EngineAccess, hint: RouteHint): Promise<AdmittedRequest> {
  let admitted: AdmittedRequest;
  try {
    admitted = await engine.admission.acquire(ex.upstreamAbort.signal, hint);
  } catch (err) {
    if (ex.abortCause === "client") throw failExchange(ex, err, errors.engineUnreachable);
    const status = err instanceof GatewayError ? err.status : 503;
    ex.trace.refused(status, err instanceof Error ? err.message : String(err));
    ex.finish({
      status: "rejected",
      httpStatus: status,
      error: err instanceof Error ? err.message : String(err),
    });
    throw err;
  }
  ex.attach(admitted);
  ex.trace.admitted(admitted.ticket);
  return admitted;
}

/** Sends the body to the admitted engine (once more, refitted, after a context 400): its response, and its text if read. */
async function exchangeWith(
  ex: Exchange,
  engine: EngineAccess,
  admitted: AdmittedRequest,
  body: string | BodyPlan,
  path: string,
): Promise<{ res: UpstreamResponse; text: string | null }> {
  const traceHeaders = ex.trace.engineCall(admitted.ticket.endpoint.baseUrl, path);
  const signal = ex.upstreamAbort.signal;
  const send = (payload: string) =>
    engine.upstream.send({
      endpoint: admitted.ticket.endpoint,
      method: "POST",
      path,
      body: payload,
      requestId: ex.id,
      headers: traceHeaders,
      signal,
    });
  let res = await send(typeof body === "string" ? body : await body.first(admitted.ticket.endpoint, signal));
  let text: string | null = null;
  if (res.status === 400 && typeof body !== "string") {
    text = await readText(res);
    const again = await body.afterRefusal(admitted.ticket.endpoint, signal);
    if (again !== null) {
      text = null;
      res = await send(again);
    }
  }
  return { res, text };
}

/**
 * Ends an exchange whose engine call failed before anything was sent to the client: a client abort, or an
 * engine failure (502). Writes the ledger row; returns the error to throw.
 */
export function failExchange(
  ex: Exchange,
  err: unknown,
  toError: (message: string, cause: unknown) => GatewayError,
): GatewayError {
  if (ex.abortCause === "client") {
    ex.finish({ status: "client_abort", httpStatus: 499, error: "client disconnected" });
    return errors.clientClosed();
  }
  const message = failureMessage(ex, err);
  ex.finish({ status: "engine_error", httpStatus: 502, error: message });
  return toError(message, err);
}

async function readText(res: UpstreamResponse): Promise<string> {
  try {
    return await res.text();
  } catch {
    return ""; // the status is enough to go on
  }
}

export function isRefusal(v: UpstreamResponse | EngineRefusal): v is EngineRefusal {
  return "refused" in v;
}
