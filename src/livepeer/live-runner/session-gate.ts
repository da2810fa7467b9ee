// Who may spend the GPU through the orchestrator's proxy. The proxy sends none of our secrets and forwards the
// client's own Authorization (go-livepeer server/ai_http.go proxyLiveRunner), so a proxied request proves itself by
// its Livepeer-Session-Id: a session the orchestrator reserved for this runner (o2r events, heartbeat replies),
// with our runner id in Livepeer-Runner-Route and a Livepeer-Session-Token, which the proxy always sets.
import type { LiveSessions } from "./live-sessions.js";

export interface LivepeerHeaders {
  sessionId: string;
  route: string | undefined;
  token: string | undefined;
}

/**
 * ok: the session may spend the GPU; `model` (several models, one registration each): the model whose registration
 * the session was reserved on, the only one its requests may call.
 */
export type SessionVerdict = { ok: true; model?: string } | { ok: false; message: string };

export interface SessionGate {
  check(headers: LivepeerHeaders): Promise<SessionVerdict>;
}

/** How long a request for a session not known yet waits for the o2r event or a heartbeat reply that names it. */
export const SESSION_WAIT_MS = 2_000;

const NOT_RESERVED =
  "The session in Livepeer-Session-Id is not one the orchestrator reserved for this runner. Reserve a session through the orchestrator, or send 'Authorization: Bearer <AUTH_TOKEN>' for direct use.";
const NOT_REGISTERED =
  "This runner is not registered with an orchestrator right now, so no proxied session can be verified; retry once it is, or send 'Authorization: Bearer <AUTH_TOKEN>'.";
const OTHER_RUNNER = "Livepeer-Runner-Route names another runner: the request was not routed to this one.";
const NO_TOKEN =
  "Livepeer-Session-Token is missing: proxied requests come through the orchestrator, which always sets it.";

// go-livepeer's ids are "session_" + base32 (live_runner.go ReserveSession) or a payment manifest id.
const SESSION_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

export interface RegistrationState {
  readonly runnerId: string | null;
  readonly isRegistered: boolean;
  refreshSessions(): void;
}

export function registeredSessionGate(
  agent: RegistrationState,
  sessions: LiveSessions,
  waitMs = SESSION_WAIT_MS,
): SessionGate {
  return {
    async check(h) {
      const pre = precheck(h, agent);
      if (pre !== null) return pre;
      if (sessions.has(h.sessionId)) return { ok: true };
      agent.refreshSessions();
      if (await sessions.waitFor(h.sessionId, waitMs)) return { ok: true };
      return { ok: false, message: NOT_RESERVED };
    },
  };
}

/** One model's registration, as the gate of several sees it. */
export interface ModelRegistration {
  model: string;
  state: RegistrationState;
  sessions: LiveSessions;
}

/**
 * Several models, each its own registration (its own runner id): the proxy's Livepeer-Runner-Route says which one
 * the session was reserved on (go-livepeer server/ai_http.go proxyLiveRunner sets it to the runner's route, which
 * for a dynamic runner is its runner id: live_runner.go Heartbeat `runner.route = runner.RunnerID`), and the verdict
 * names that registration's model. Without the header (the proxy always sends it), the registration that holds
 * the session.
 */
export function modelsSessionGate(
  registrations: readonly ModelRegistration[],
  waitMs = SESSION_WAIT_MS,
): SessionGate {
  return {
    async check(h) {
      if (!SESSION_ID.test(h.sessionId))
        return { ok: false, message: "Livepeer-Session-Id is not a session id an orchestrator issues." };
      const registered = registrations.filter((r) => r.state.isRegistered && r.state.runnerId !== null);
      if (registered.length === 0) return { ok: false, message: NOT_REGISTERED };
      let candidates = registered;
      if (h.route !== undefined) {
        candidates = registered.filter((r) => r.state.runnerId === h.route);
        if (candidates.length === 0) return { ok: false, message: OTHER_RUNNER };
      }
      if (h.token === undefined || h.token === "") return { ok: false, message: NO_TOKEN };
      const holder = () => candidates.find((r) => r.sessions.has(h.sessionId));
      let found = holder();
      if (found === undefined) {
        for (const r of candidates) r.state.refreshSessions();
        const waits = candidates.map((r) =>
          r.sessions.waitFor(h.sessionId, waitMs).then((ok) => (ok ? r : Promise.reject())),
        );
        found = await Promise.any(waits).catch(() => undefined);
      }
      return found === undefined ? { ok: false, message: NOT_RESERVED } : { ok: true, model: found.model };
    },
  };
}

/** The checks that need no waiting; null when the session itself must be looked up. */
export function precheck(
  h: LivepeerHeaders,
  agent: Pick<RegistrationState, "runnerId" | "isRegistered">,
): SessionVerdict | null {
  if (!SESSION_ID.test(h.sessionId))
    return { ok: false, message: "Livepeer-Session-Id is not a session id an orchestrator issues." };
  if (!agent.isRegistered || agent.runnerId === null) return { ok: false, message: NOT_REGISTERED };
  if (h.route !== undefined && h.route !== agent.runnerId) return { ok: false, message: OTHER_RUNNER };
  if (h.token === undefined || h.token === "") return { ok: false, message: NO_TOKEN };
  return null;
}
