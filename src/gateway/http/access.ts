// Who may spend GPU time on /llm and /v1/*: a caller with the bearer AUTH_TOKEN, a request the Live Runner
// orchestrator proxied for a session it reserved for us (livepeer/live-runner/session-gate.ts), or anyone when
// there is no token and the runner is not exposed as a Live Runner beyond loopback.
import type { Context, MiddlewareHandler } from "hono";
import type { SessionGate } from "../../livepeer/live-runner/session-gate.js";
import { bearerCheck, bearerRefusal } from "./auth.js";
import { errors } from "./gateway-error.js";
import { requestHeader } from "./node-bindings.js";
import { isLlmPath } from "./wire-status.js";

/** The Hono variable the guard sets on a request proxied for a Live Runner session (read by engine-call.ts). */
export const LIVEPEER_SESSION = "livepeerSession";
export interface LivepeerSession {
  id: string;
  /** Keep the session's requests on one replica (persistent sessions). */
  sticky: boolean;
  /**
   * Several models, each its own registration: the model of the registration the session was reserved on. Its
   * requests may call that model only (routes/model-deps.ts `sessionModel`), once the body says which.
   */
  model?: string;
}

/** The session a request was proxied for, as the access guard saw it. */
export function livepeerSessionOf(c: Context): LivepeerSession | undefined {
  return (c.var as Record<string, LivepeerSession | undefined> | undefined)?.[LIVEPEER_SESSION];
}

export interface AccessRules {
  token: string | null;
  /** Dynamic Live Runner registration: proxied sessions are checked against what the orchestrator reserved. */
  sessions: SessionGate | null;
  /** Without a token: whether direct requests (no Livepeer session) are served. */
  directWithoutToken: boolean;
  /** LIVE_RUNNER_MODE=persistent: a session's requests stay on one replica. */
  stickySessions: boolean;
}

export function accessGuard(rules: AccessRules): MiddlewareHandler {
  const bearer = rules.token === null || rules.token === "" ? null : bearerCheck(rules.token);
  return async (c, next) => {
    // Recorded whatever the rule (a static runner's orchestrator proxies too): the ledger row names the session.
    const sessionId = requestHeader(c, "livepeer-session-id");
    const session = (model?: string): LivepeerSession => ({
      id: (sessionId as string).slice(0, 128),
      sticky: rules.stickySessions,
      ...(model === undefined ? {} : { model }),
    });
    if (sessionId !== undefined && sessionId !== "") c.set(LIVEPEER_SESSION as never, session() as never);
    if (bearer === null && rules.sessions === null) return next();
    const presented = bearer?.(requestHeader(c, "authorization")) ?? null;
    if (presented === "ok") return next();
    if (rules.sessions !== null && sessionId !== undefined) {
      const verdict = await rules.sessions.check({
        sessionId,
        route: requestHeader(c, "livepeer-runner-route"),
        token: requestHeader(c, "livepeer-session-token"),
      });
      // /llm's only authorization status is 401 (wire-status.ts); /v1 says 403, as OpenAI does for a refused key.
      if (!verdict.ok)
        throw isLlmPath(c.req.path)
          ? errors.unauthorized(verdict.message)
          : errors.forbidden(verdict.message);
      if (verdict.model !== undefined && sessionId !== "")
        c.set(LIVEPEER_SESSION as never, session(verdict.model) as never);
      return next();
    }
    if (presented === null) {
      if (rules.directWithoutToken) return next();
      throw errors.unauthorized(
        "This runner serves requests for sessions reserved through its Livepeer orchestrator; direct requests need 'Authorization: Bearer <AUTH_TOKEN>', and AUTH_TOKEN is not set.",
      );
    }
    throw bearerRefusal(presented);
  };
}
