// Reads the orchestrator-to-runner trickle channel: GET {url}/{seq} returns segment `seq` (one JSON message) once
// it is published, with Lp-Trickle-Seq; 470 = that segment is gone or not yet possible (jump to Lp-Trickle-Latest);
// 404 = the channel is closed (the registration ended); Lp-Trickle-Closed = terminated. go-livepeer
// trickle/trickle_server.go (handleGet, getForRead, 5 segments kept) and ai/runner/live_runner.go (writeO2RLoop:
// {"keep":"alive"} every 10 s, {"event":"reserved"|"released","session","timestamp"} per session change).
import type { Logger } from "../../log/logger.js";
import type { OrchestratorHttp } from "./orchestrator-client.js";
import type { Timers } from "./timers.js";

export interface O2rHandlers {
  reserved(sessionId: string): void;
  released(sessionId: string): void;
  /** Messages may have been missed (a gap, a reconnect): the heartbeat's session list puts it right. */
  gap(why: string): void;
  /** The channel is closed for good (the orchestrator dropped the registration). */
  closed(why: string): void;
}

export type O2rState = "connecting" | "connected" | "retrying" | "closed" | "stopped";

// Keep-alives come every 10 s: a read that takes much longer is a dead connection.
const READ_TIMEOUT_MS = 35_000;
const MAX_BACKOFF_MS = 10_000;

export class O2rSubscriber {
  private running = true;
  private readonly stopper = new AbortController();
  state: O2rState = "connecting";
  lastMessageAt: number | null = null;

  constructor(
    /** The channel's URL: a credential (its name is secret), never logged. */
    private readonly url: string,
    private readonly http: OrchestratorHttp,
    private readonly handlers: O2rHandlers,
    private readonly timers: Timers,
    private readonly logger: Logger,
  ) {}

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.running = false;
    this.state = "stopped";
    this.stopper.abort();
  }

  private async loop(): Promise<void> {
    let seq = 0; // a new channel: nothing published yet, so nothing is missed
    let backoff = 500;
    while (this.running) {
      const signal = AbortSignal.any([this.stopper.signal, AbortSignal.timeout(READ_TIMEOUT_MS)]);
      const res = await this.http.get(`${this.url}/${seq}`, signal);
      if (!this.running) return;
      if ("error" in res) {
        this.state = "retrying";
        this.logger.debug({ seq, err: res.error }, "o2r read failed; retrying");
        this.handlers.gap("the o2r channel read failed");
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        continue;
      }
      if (res.status === 404 || res.headers["lp-trickle-closed"] === "terminated") {
        this.state = "closed";
        this.running = false;
        this.handlers.closed(
          res.status === 404 ? "the o2r channel no longer exists" : "the o2r channel was closed",
        );
        return;
      }
      if (res.status === 470) {
        const latest = Number(res.headers["lp-trickle-latest"]);
        this.handlers.gap(`o2r segment ${seq} is gone`);
        seq = Number.isInteger(latest) && latest >= 0 ? latest : seq + 1;
        continue;
      }
      if (res.status !== 200) {
        this.state = "retrying";
        this.handlers.gap(`the o2r channel answered HTTP ${res.status}`);
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        continue;
      }
      backoff = 500;
      this.state = "connected";
      this.lastMessageAt = this.timers.now();
      const served = Number(res.headers["lp-trickle-seq"]);
      seq = (Number.isInteger(served) && served >= 0 ? served : seq) + 1;
      this.dispatch(res.text);
    }
  }

  private dispatch(text: string): void {
    if (text.trim() === "") return;
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.logger.warn({ bytes: text.length }, "o2r message is not JSON; ignored");
      return;
    }
    if (typeof message !== "object" || message === null) return;
    const m = message as Record<string, unknown>;
    if (typeof m.session !== "string" || m.session === "") return; // {"keep":"alive"} and anything unknown
    if (m.event === "reserved") this.handlers.reserved(m.session);
    else if (m.event === "released") this.handlers.released(m.session);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const id = this.timers.setTimeout(resolve, ms);
      this.stopper.signal.addEventListener(
        "abort",
        () => {
          this.timers.clearTimeout(id);
          resolve();
        },
        { once: true },
      );
    });
  }
}
