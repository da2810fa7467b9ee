// The worker's side of the Live Runner registration (GATEWAY_WORKERS > 1): the registration and the reserved
// sessions arrive in the primary's view; a session the view does not list yet is asked of the primary, which
// waits for the orchestrator's word on it (livepeer/live-runner/session-gate.ts). Several models, each its own
// registration: a session the view lists under a model's registration is that model's; any other is asked of
// the primary, whose gate (modelsSessionGate) names the model in its verdict, which crosses the channel as it is.
import type { LiveRunnerSnapshot } from "../../livepeer/live-runner/live-runner-agent.js";
import type { LiveRunnerOffer, LiveRunnerPort } from "../../livepeer/live-runner/live-runner-port.js";
import {
  type LivepeerHeaders,
  precheck,
  SESSION_WAIT_MS,
  type SessionGate,
  type SessionVerdict,
} from "../../livepeer/live-runner/session-gate.js";
import type { LiveRunnerView, WorkerToPrimary } from "./messages.js";
import { PendingReplies } from "./pending-replies.js";

// The primary waits SESSION_WAIT_MS for the orchestrator; past this the primary is taken as gone.
const ASK_TIMEOUT_MS = SESSION_WAIT_MS + 3_000;

export class RemoteLiveRunner implements LiveRunnerPort {
  private view: LiveRunnerView;
  private sessions = new Set<string>();
  /** Several models: each model's registration and its sessions. */
  private offerSessions: Array<{ model: string; snapshot: LiveRunnerSnapshot; sessions: Set<string> }> = [];
  private readonly asked = new PendingReplies<SessionVerdict>();
  readonly gate: SessionGate;

  constructor(
    initial: LiveRunnerView,
    private readonly post: (message: WorkerToPrimary) => void,
  ) {
    this.view = initial;
    this.setView(initial);
    this.gate = { check: (h) => this.check(h) };
    if (initial.offers) this.offers = () => this.offerList();
  }

  /** Several models: each model's registration (absent with one registration, as LiveRunnerLink). */
  readonly offers?: () => LiveRunnerOffer[];

  setView(view: LiveRunnerView): void {
    this.view = view;
    this.sessions = new Set(view.sessions);
    this.offerSessions = (view.offers ?? []).map((o) => ({
      model: o.model,
      snapshot: o.snapshot,
      sessions: new Set(o.sessions),
    }));
  }

  private offerList(): LiveRunnerOffer[] {
    return this.offerSessions.map(({ model, snapshot }) => ({ model, snapshot }));
  }

  snapshot(): LiveRunnerSnapshot {
    return this.view.snapshot;
  }

  /** The primary's answer to a session-request. */
  verdict(id: number, verdict: SessionVerdict): void {
    this.asked.reply(id, verdict);
  }

  private check(h: LivepeerHeaders): Promise<SessionVerdict> {
    if (this.view.offers) return this.checkOffers(h);
    const snap = this.view.snapshot;
    const pre = precheck(h, { runnerId: snap.runnerId, isRegistered: snap.registered });
    if (pre !== null) return Promise.resolve(pre);
    if (this.sessions.has(h.sessionId)) return Promise.resolve({ ok: true });
    return this.askPrimary(h);
  }

  /**
   * Several models: a session listed under the registration the proxy named (Livepeer-Runner-Route) is that
   * model's at once; everything else (refusals included) is the primary's gate's word.
   */
  private checkOffers(h: LivepeerHeaders): Promise<SessionVerdict> {
    if (h.token !== undefined && h.token !== "") {
      const held = this.offerSessions.find(
        (o) =>
          o.snapshot.registered &&
          o.snapshot.runnerId !== null &&
          (h.route === undefined || h.route === o.snapshot.runnerId) &&
          o.sessions.has(h.sessionId),
      );
      if (held && precheck(h, { runnerId: held.snapshot.runnerId, isRegistered: true }) === null)
        return Promise.resolve({ ok: true, model: held.model });
    }
    return this.askPrimary(h);
  }

  private askPrimary(h: LivepeerHeaders): Promise<SessionVerdict> {
    return this.asked.ask((id) => this.post({ type: "session-request", id, headers: h }), {
      timeoutMs: ASK_TIMEOUT_MS,
      onTimeout: () => ({
        ok: false,
        message: "The runner's main process did not answer whether the session is reserved; retry.",
      }),
    });
  }
}
