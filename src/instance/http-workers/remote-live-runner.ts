// The worker's side of the Live Runner registration (GATEWAY_WORKERS > 1): the registration and the reserved
// sessions arrive in the primary's view; a session the view does not list yet is asked of the primary, which
// waits for the orchestrator's word on it (livepeer/live-runner/session-gate.ts).
import type { LiveRunnerSnapshot } from "../../livepeer/live-runner/live-runner-agent.js";
import type { LiveRunnerPort } from "../../livepeer/live-runner/live-runner-port.js";
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
  private sessions: Set<string>;
  private readonly asked = new PendingReplies<SessionVerdict>();
  readonly gate: SessionGate;

  constructor(
    initial: LiveRunnerView,
    private readonly post: (message: WorkerToPrimary) => void,
  ) {
    this.view = initial;
    this.sessions = new Set(initial.sessions);
    this.gate = { check: (h) => this.check(h) };
  }

  setView(view: LiveRunnerView): void {
    this.view = view;
    this.sessions = new Set(view.sessions);
  }

  snapshot(): LiveRunnerSnapshot {
    return this.view.snapshot;
  }

  /** The primary's answer to a session-request. */
  verdict(id: number, verdict: SessionVerdict): void {
    this.asked.reply(id, verdict);
  }

  private check(h: LivepeerHeaders): Promise<SessionVerdict> {
    const snap = this.view.snapshot;
    const pre = precheck(h, { runnerId: snap.runnerId, isRegistered: snap.registered });
    if (pre !== null) return Promise.resolve(pre);
    if (this.sessions.has(h.sessionId)) return Promise.resolve({ ok: true });
    return this.asked.ask((id) => this.post({ type: "session-request", id, headers: h }), {
      timeoutMs: ASK_TIMEOUT_MS,
      onTimeout: () => ({
        ok: false,
        message: "The runner's main process did not answer whether the session is reserved; retry.",
      }),
    });
  }
}
