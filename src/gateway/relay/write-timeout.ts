// CLIENT_WRITE_TIMEOUT: a streaming client whose socket stays full (no drain) for that long is closed, so it
// cannot hold an engine slot (and its KV cache) by not reading. One sweep timer serves the whole gateway and
// runs only while some client is behind: a stream that waits on its client costs a Set insert, not a timer.
import type { Logger } from "../../log/logger.js";

/** A stream whose client stopped taking bytes (its socket buffer is full and the engine stream is paused). */
export interface WaitingWrite {
  /** When the client stopped taking bytes (set by wait()). */
  since: number;
  readonly requestId: string;
  /** The client's time is up: close it and end its exchange. */
  expire(): void;
}

export class WriteTimeout {
  private readonly waiting = new Set<WaitingWrite>();
  private timer: NodeJS.Timeout | null = null;
  private readonly tickMs: number;
  /** The ledger row's error for a client closed this way. */
  readonly reason: string;

  /** `timeoutMs` 0: clients are never closed for being slow. `now`: a monotonic clock in ms. */
  constructor(
    readonly timeoutMs: number,
    private readonly logger: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new Error(`the client write timeout must be a number of ms ≥ 0 (got ${timeoutMs})`);
    }
    // Closed within a quarter of the timeout (at most a second) after it is up.
    this.tickMs = Math.max(50, Math.min(1_000, Math.floor(timeoutMs / 4)));
    this.reason = `the client read too little of the stream in ${timeoutMs / 1000} s (CLIENT_WRITE_TIMEOUT): closed`;
  }

  /** Streams whose client is behind now. */
  get size(): number {
    return this.waiting.size;
  }

  /** The client stopped taking bytes: it has `timeoutMs` to take some (done()) before expire(). */
  wait(write: WaitingWrite): void {
    if (this.timeoutMs === 0) return;
    write.since = this.now();
    this.waiting.add(write);
    if (this.timer === null) {
      this.timer = setInterval(() => this.sweep(), this.tickMs);
      this.timer.unref();
    }
  }

  /** The client took bytes again (drain), or its stream ended. */
  done(write: WaitingWrite): void {
    this.waiting.delete(write);
  }

  private sweep(): void {
    const now = this.now();
    for (const write of this.waiting) {
      if (now - write.since < this.timeoutMs) continue;
      this.waiting.delete(write);
      this.logger.warn(
        { requestId: write.requestId, timeoutS: this.timeoutMs / 1000 },
        "closed a streaming client that read too little in CLIENT_WRITE_TIMEOUT; its engine request was aborted",
      );
      write.expire();
    }
    if (this.waiting.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
