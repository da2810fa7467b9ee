// Keeps this runner registered with a Livepeer orchestrator as a dynamic Live Runner, telling the truth in every
// heartbeat. The rules are go-livepeer's own (ai/runner/live_runner.go Heartbeat, Unregister; server/ai_http.go),
// commit 176aa415ccea4f9861e0dd44e981cda17fb36f52:
// * the first heartbeat carries the registration secret (-orchSecret) and gets back heartbeat_secret, the interval,
//   the TTL and the o2r channel; later ones carry the heartbeat secret;
// * a heartbeat for a runner id the orchestrator no longer knows (it restarted, or its expiry sweep removed us) goes
//   down the registration path, so the heartbeat secret gets 401 "invalid registration authorization"; between the
//   expiry and the sweep it gets 404. doc/live-runner.md says "re-register on 404" only; we re-register on both.
// * a registration refused with 401 means the registration secret is wrong; 404 means dynamic registration is off;
//   the body is validated before the secret (400 first).
// * unregister: POST /runners/{id}/unregister with the heartbeat secret, 204.
import type { Logger } from "../../log/logger.js";
import {
  BadReply,
  type HeartbeatReply,
  type HeartbeatRequest,
  type LiveRunnerGpu,
  parseHeartbeatReply,
} from "./heartbeat-wire.js";
import type { LiveSessions } from "./live-sessions.js";
import { O2rSubscriber } from "./o2r-subscriber.js";
import type { OrchestratorAnswer, OrchestratorHttp } from "./orchestrator-client.js";
import type { Timers } from "./timers.js";

/** What the runner can serve now: "ready", or the word for why not (its supervisor state, "ledger_unwritable"). */
export interface RunnerTruth {
  status: string;
  capacity: number;
  /** The heartbeat's `metadata` (several models: the model and its sleep state, runner-truth.ts); absent: none. */
  metadata?: string;
}

/** Whether a heartbeat that said `sent` would say something else now. */
function differs(truth: RunnerTruth, sent: HeartbeatRequest): boolean {
  return truth.status !== sent.status || truth.capacity !== sent.capacity || truth.metadata !== sent.metadata;
}

export type HeartbeatResult =
  | "registered" // a registration was accepted
  | "ok" // a heartbeat was accepted
  | "auth_refused" // 401
  | "not_found" // 404
  | "bad_request" // 400
  | "server_error" // another status
  | "unreachable" // no answer
  | "bad_reply"; // 2xx that can't be used
export const HEARTBEAT_RESULTS: readonly HeartbeatResult[] = [
  "registered",
  "ok",
  "auth_refused",
  "not_found",
  "bad_request",
  "server_error",
  "unreachable",
  "bad_reply",
];

export interface LiveRunnerIdentity {
  orchestratorUrl: string;
  registrationSecret: string;
  runnerUrl: string;
  mode: "single-shot" | "persistent";
  app: string;
  label: string | null;
  version: string;
  gpu: LiveRunnerGpu | null;
}

export interface LiveRunnerAgentDeps {
  identity: LiveRunnerIdentity;
  truth(): RunnerTruth;
  /** USD per hour per session slot now, or null to send none. */
  price(): number | null;
  sessions: LiveSessions;
  http: OrchestratorHttp;
  timers: Timers;
  logger: Logger;
}

/** The registration as status, /metrics and /live-runner show it. No secret, no o2r URL. */
export interface LiveRunnerSnapshot {
  orchestrator: string;
  mode: "single-shot" | "persistent";
  app: string;
  runnerUrl: string;
  registered: boolean;
  runnerId: string | null;
  /** Why it is not registered (or the last failure while registered). */
  problem: string | null;
  lastResult: HeartbeatResult | null;
  lastOkAt: string | null;
  /** What the last accepted heartbeat said (`metadata` only when it carried one). */
  sent: { status: string; capacity: number; priceUsdPerHour: number | null; metadata?: string } | null;
  intervalMs: number | null;
  ttlMs: number | null;
  sessions: number;
  o2r: "connecting" | "connected" | "retrying" | "closed" | "stopped" | "none";
  heartbeats: Record<HeartbeatResult, number>;
}

const MIN_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
// How often the truth is compared with what was last sent, beside the supervisor's own state events.
const WATCH_MS = 1_000;
// A heartbeat asked for by an unknown session waits at least this long after the previous one.
const FORCED_GAP_MS = 200;

interface Registration {
  runnerId: string;
  heartbeatSecret: string;
  intervalMs: number;
  ttlMs: number;
}

export class LiveRunnerAgent {
  private registration: Registration | null = null;
  /** The id the orchestrator gave us: proposed again when we re-register, so clients' URLs keep working. */
  private knownRunnerId: string | null = null;
  private o2r: O2rSubscriber | null = null;
  private timer: unknown = null;
  private watchTimer: unknown = null;
  private timerDueAt = 0;
  private inFlight: Promise<void> | null = null;
  private pendingDelay: number | null = null;
  private stopped = false;
  private backoffMs = MIN_BACKOFF_MS;
  private lastSent: HeartbeatRequest | null = null;
  private lastOkAt: number | null = null;
  private lastAttemptAt = 0;
  private problem: string | null = "not registered yet";
  private lastResult: HeartbeatResult | null = null;
  private readonly counts = Object.fromEntries(HEARTBEAT_RESULTS.map((r) => [r, 0])) as Record<
    HeartbeatResult,
    number
  >;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly deps: LiveRunnerAgentDeps) {}

  start(): void {
    this.schedule(0);
    const watch = () => {
      if (this.stopped) return;
      this.notify();
      this.watchTimer = this.deps.timers.setTimeout(watch, WATCH_MS);
    };
    this.watchTimer = this.deps.timers.setTimeout(watch, WATCH_MS);
  }

  /** The runner's state may have changed: send a heartbeat now when what we would send differs. */
  notify(): void {
    if (this.stopped || this.registration === null || this.lastSent === null) return;
    if (differs(this.deps.truth(), this.lastSent)) this.schedule(0);
  }

  /** An unknown session asks: a heartbeat now, whose reply lists the orchestrator's sessions. */
  refreshSessions(): void {
    if (this.stopped || this.registration === null) return;
    const wait = Math.max(0, this.lastAttemptAt + FORCED_GAP_MS - this.deps.timers.now());
    this.schedule(wait);
  }

  get runnerId(): string | null {
    return this.registration?.runnerId ?? null;
  }

  get isRegistered(): boolean {
    return this.registration !== null && !this.expired();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  snapshot(): LiveRunnerSnapshot {
    const id = this.deps.identity;
    return {
      orchestrator: id.orchestratorUrl,
      mode: id.mode,
      app: id.app,
      runnerUrl: id.runnerUrl,
      registered: this.isRegistered,
      runnerId: this.registration?.runnerId ?? null,
      problem: this.problem,
      lastResult: this.lastResult,
      lastOkAt: this.lastOkAt === null ? null : new Date(this.lastOkAt).toISOString(),
      sent:
        this.lastSent === null
          ? null
          : {
              status: this.lastSent.status,
              capacity: this.lastSent.capacity,
              priceUsdPerHour: this.lastSent.price_info.price ?? null,
              ...(this.lastSent.metadata === undefined ? {} : { metadata: this.lastSent.metadata }),
            },
      intervalMs: this.registration?.intervalMs ?? null,
      ttlMs: this.registration?.ttlMs ?? null,
      sessions: this.deps.sessions.size,
      o2r: this.o2r?.state ?? "none",
      heartbeats: { ...this.counts },
    };
  }

  /** Unregisters (so the orchestrator routes nothing new here), then stops heartbeating. Never throws. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.deps.timers.clearTimeout(this.timer);
    this.timer = null;
    this.deps.timers.clearTimeout(this.watchTimer);
    await this.inFlight?.catch(() => {});
    this.o2r?.stop();
    const reg = this.registration;
    this.registration = null;
    this.deps.sessions.clear();
    if (reg !== null) {
      const url = `${this.deps.identity.orchestratorUrl}/runners/${encodeURIComponent(reg.runnerId)}/unregister`;
      const answer = await this.deps.http.post(url, undefined, reg.heartbeatSecret);
      if (answer.kind === "ok")
        this.deps.logger.info({ runnerId: reg.runnerId }, "unregistered from the orchestrator");
      else
        this.deps.logger.warn(
          { runnerId: reg.runnerId, answer: describe(answer) },
          "could not unregister from the orchestrator; it drops this runner when its heartbeats stop",
        );
    }
    this.problem = "stopped";
    this.changed();
  }

  private expired(): boolean {
    const reg = this.registration;
    return reg !== null && (this.lastOkAt === null || this.deps.timers.now() - this.lastOkAt > reg.ttlMs);
  }

  /** The next heartbeat in `ms` (the earliest asked for wins); while one is on its way, after it. */
  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.inFlight) {
      this.pendingDelay = Math.min(this.pendingDelay ?? ms, ms);
      return;
    }
    const due = this.deps.timers.now() + ms;
    if (this.timer !== null && this.timerDueAt <= due) return;
    this.deps.timers.clearTimeout(this.timer);
    this.timerDueAt = due;
    this.timer = this.deps.timers.setTimeout(() => {
      this.timer = null;
      this.inFlight = this.beat().finally(() => {
        this.inFlight = null;
        const next = this.pendingDelay;
        this.pendingDelay = null;
        if (next !== null) this.schedule(next);
      });
    }, ms);
  }

  private body(registering: boolean): HeartbeatRequest {
    const id = this.deps.identity;
    const truth = this.deps.truth();
    const price = this.deps.price();
    const runnerId = registering ? this.knownRunnerId : (this.registration?.runnerId ?? null);
    return {
      ...(runnerId ? { runner_id: runnerId } : {}),
      ...(id.label ? { label: id.label } : {}),
      runner_url: id.runnerUrl,
      version: id.version,
      ...(truth.metadata === undefined ? {} : { metadata: truth.metadata }),
      status: truth.status,
      mode: id.mode,
      ...(id.gpu ? { gpu: id.gpu } : {}),
      app: id.app,
      capacity: Math.max(0, Math.floor(truth.capacity)),
      price_info: { ...(price === null ? {} : { price }), currency: "usd", unit: "hour" },
      session_ids: this.deps.sessions.list(),
    };
  }

  private async beat(): Promise<void> {
    this.lastAttemptAt = this.deps.timers.now();
    const reg = this.registration;
    const registering = reg === null;
    const body = this.body(registering);
    const mark = this.deps.sessions.mark();
    const url = `${this.deps.identity.orchestratorUrl}/runners/heartbeat`;
    const answer = await this.deps.http.post(
      url,
      body,
      registering ? this.deps.identity.registrationSecret : reg.heartbeatSecret,
    );
    if (this.stopped) {
      // Stopping: keep only what stop() needs to unregister a registration that just went through.
      if (answer.kind === "ok" && registering) {
        try {
          const reply = parseHeartbeatReply(answer.body, true);
          this.registration = {
            runnerId: reply.runnerId,
            heartbeatSecret: reply.heartbeatSecret as string,
            intervalMs: reply.intervalMs,
            ttlMs: reply.ttlMs,
          };
        } catch {
          // nothing to unregister
        }
      }
      return;
    }
    if (answer.kind === "ok") {
      let reply: HeartbeatReply;
      try {
        reply = parseHeartbeatReply(answer.body, registering);
      } catch (err) {
        const why = err instanceof BadReply ? err.message : String(err);
        this.failed("bad_reply", `the orchestrator's reply can't be used: ${why}`);
        return;
      }
      this.accepted(reply, body, mark, registering);
      return;
    }
    if (answer.kind === "status" && (answer.status === 401 || answer.status === 404)) {
      if (!registering) {
        // The orchestrator forgot us (restart, or expiry): register again at once with the registration secret.
        this.record(answer.status === 401 ? "auth_refused" : "not_found");
        this.deps.logger.warn(
          { runnerId: reg.runnerId, status: answer.status, message: answer.message },
          "the orchestrator no longer knows this runner; registering again",
        );
        this.drop(`the orchestrator no longer knew this runner (HTTP ${answer.status}: ${answer.message})`);
        this.schedule(0);
        return;
      }
      if (answer.status === 401) {
        this.failed(
          "auth_refused",
          `not registered: ${answer.message || "invalid registration authorization"} (HTTP 401): LIVE_RUNNER_SECRET is not the orchestrator's -orchSecret`,
        );
      } else {
        this.failed(
          "not_found",
          `not registered: the orchestrator answered HTTP 404 (${answer.message}): start it with -useLiveRunners -orchSecret <secret>, and check that LIVE_RUNNER_ORCH_URL is its -liveRunnerAddr`,
        );
      }
      return;
    }
    const [result, problem] = refusal(answer, this.deps.identity.orchestratorUrl);
    this.failed(result, problem);
  }

  private accepted(reply: HeartbeatReply, sent: HeartbeatRequest, mark: number, registering: boolean): void {
    const previous = this.registration;
    const secret = reply.heartbeatSecret ?? previous?.heartbeatSecret;
    if (secret === undefined) {
      this.failed("bad_reply", "the reply has no heartbeat_secret");
      return;
    }
    this.registration = {
      runnerId: reply.runnerId,
      heartbeatSecret: secret,
      intervalMs: reply.intervalMs,
      ttlMs: reply.ttlMs,
    };
    this.knownRunnerId = reply.runnerId;
    this.lastSent = sent;
    this.lastOkAt = this.deps.timers.now();
    this.problem = null;
    this.backoffMs = MIN_BACKOFF_MS;
    this.record(registering ? "registered" : "ok");
    this.deps.sessions.reconcile(reply.sessionIds, mark);
    if (registering) {
      this.deps.logger.info(
        {
          runnerId: reply.runnerId,
          orchestrator: this.deps.identity.orchestratorUrl,
          interval: reply.intervalMs / 1000,
          ttl: reply.ttlMs / 1000,
          status: sent.status,
          capacity: sent.capacity,
        },
        "registered with the orchestrator as a Live Runner",
      );
      this.o2r?.stop();
      this.o2r = null;
      if (reply.o2r) this.startO2r(reply.o2r.url);
      else
        this.deps.logger.warn(
          {},
          "the registration reply has no o2r channel: sessions are learnt from heartbeats only",
        );
    }
    this.changed();
    // The truth may have moved while the heartbeat was on its way.
    if (differs(this.deps.truth(), sent)) this.schedule(0);
    else this.schedule(reply.intervalMs);
  }

  private startO2r(url: string): void {
    const sessions = this.deps.sessions;
    const sub = new O2rSubscriber(
      url,
      this.deps.http,
      {
        reserved: (id) => sessions.reserve(id),
        released: (id) => sessions.release(id),
        gap: () => this.refreshSessions(),
        closed: (why) => {
          this.deps.logger.info({ why }, "o2r channel closed");
          this.refreshSessions(); // the heartbeat's answer says whether we are still registered
        },
      },
      this.deps.timers,
      this.deps.logger.child({ component: "o2r" }),
    );
    this.o2r = sub;
    sub.start();
  }

  private drop(problem: string): void {
    this.registration = null;
    this.problem = problem;
    this.o2r?.stop();
    this.o2r = null;
    this.deps.sessions.clear();
    this.changed();
  }

  private failed(result: HeartbeatResult, problem: string): void {
    this.record(result);
    if (this.problem !== problem) {
      const log = this.registration === null ? this.deps.logger.error : this.deps.logger.warn;
      log.call(this.deps.logger, { result, retryIn: this.backoffMs / 1000 }, problem);
    }
    this.problem = problem;
    if (this.registration !== null && this.expired()) {
      // Past the TTL the orchestrator has dropped us and released our sessions; keep the secret to ask again.
      this.deps.sessions.clear();
    }
    this.changed();
    // While registered, retry within the TTL; otherwise back off further each time.
    const cap =
      this.registration === null ? MAX_BACKOFF_MS : Math.max(MIN_BACKOFF_MS, this.registration.intervalMs);
    const wait = Math.min(this.backoffMs, cap);
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.schedule(wait);
  }

  private record(result: HeartbeatResult): void {
    this.lastResult = result;
    this.counts[result] += 1;
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

/** A heartbeat that was not accepted (other than 401/404): its result and the problem, worded for the operator. */
function refusal(
  answer: Exclude<OrchestratorAnswer, { kind: "ok" }>,
  orchestrator: string,
): [HeartbeatResult, string] {
  switch (answer.kind) {
    case "status":
      if (answer.status === 400) {
        const price = /price/.test(answer.message)
          ? "; an on-chain orchestrator needs LIVE_RUNNER_PRICE_USD_PER_HOUR"
          : "";
        return [
          "bad_request",
          `the orchestrator refused the heartbeat (HTTP 400: ${answer.message})${price}`,
        ];
      }
      return ["server_error", `the orchestrator answered HTTP ${answer.status} (${answer.message})`];
    case "garbage":
      return ["bad_reply", `the orchestrator's reply can't be used: ${answer.message}`];
    case "unreachable":
      return ["unreachable", `the orchestrator at ${orchestrator} is unreachable: ${answer.message}`];
  }
}

function describe(answer: OrchestratorAnswer): string {
  switch (answer.kind) {
    case "ok":
      return `HTTP ${answer.status}`;
    case "status":
      return `HTTP ${answer.status}: ${answer.message}`;
    default:
      return answer.message;
  }
}
