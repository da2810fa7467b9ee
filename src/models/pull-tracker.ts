// How far a pull is, from its events: bytes of the total, rate over the last seconds, ETA, files done and in flight.
// The terminal view (cli/pull-progress.ts) draws it; a runner that pulls before its engine starts reports it on
// /ready, status and its heartbeats.
import { formatBytes, formatDuration } from "./format-bytes.js";
import type { PullEvent } from "./pull-model.js";

const RATE_WINDOW_MS = 5_000;

export class PullTracker {
  /** Bytes this run must fetch (known once planned). */
  total = 0;
  done = 0;
  planned = false;
  files = { done: 0, count: 0 };
  /** Paths in flight, in the order they started. */
  readonly inFlight: string[] = [];
  private samples: Array<{ t: number; bytes: number }> = [];

  constructor(private readonly now: () => number = Date.now) {}

  onEvent(e: PullEvent): void {
    switch (e.type) {
      case "plan":
        this.total = e.toFetch;
        this.planned = true;
        this.samples = [{ t: this.now(), bytes: 0 }];
        return;
      case "file":
        if (e.count === 0) return; // the safetensors index, fetched before the plan
        this.files.count = e.count;
        this.inFlight.push(e.path);
        return;
      case "file-done": {
        if (e.count === 0) return;
        this.files = { done: this.files.done + 1, count: e.count };
        const at = this.inFlight.indexOf(e.path);
        if (at >= 0) this.inFlight.splice(at, 1);
        return;
      }
      case "bytes":
        this.done += e.n;
        return;
      default:
        return;
    }
  }

  /** 0..1 of the bytes to fetch; 1 when there is nothing to fetch. */
  fraction(): number {
    return this.total > 0 ? Math.min(1, this.done / this.total) : 1;
  }

  /** Bytes per second over the last few seconds. */
  rate(): number {
    const t = this.now();
    this.samples.push({ t, bytes: this.done });
    while (this.samples.length > 2 && (this.samples[0] as { t: number }).t < t - RATE_WINDOW_MS)
      this.samples.shift();
    const first = this.samples[0] as { t: number; bytes: number };
    const dt = (t - first.t) / 1000;
    return dt > 0 ? (this.done - first.bytes) / dt : 0;
  }

  /** Seconds left at the current rate, or null while it is not known. */
  eta(rate = this.rate()): number | null {
    return rate > 0 ? (this.total - this.done) / rate : null;
  }

  /** "45% (7.2 GB of 16 GB, 120 MB/s, ETA 1m10s, file 3 of 7)" */
  summary(): string {
    const rate = this.rate();
    const eta = this.eta(rate);
    const file =
      this.files.count > 0
        ? `, file ${Math.min(this.files.count, this.files.done + 1)} of ${this.files.count}`
        : "";
    const pct = Math.floor(this.fraction() * 100);
    return `${pct}% (${formatBytes(this.done)} of ${formatBytes(this.total)}, ${formatBytes(rate)}/s, ETA ${eta === null ? "?" : formatDuration(eta)}${file})`;
  }
}
