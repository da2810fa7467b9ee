// Download progress for `pull` (and `start` when it pulls first): on a terminal one line redrawn in place with
// bytes of the total, rate, ETA, files done and the files in flight; otherwise plain lines (one per file, one
// per 10 % of the bytes), so logs and CI output stay readable. A retry gets its own line with its wait.

import { formatBytes, formatDuration } from "../models/format-bytes.js";
import type { PullEvent } from "../models/pull-model.js";
import { serverText } from "../models/temporary-failure.js";
import type { ProgressOutput } from "./progress.js";

const BAR_WIDTH = 24;
const REDRAW_MS = 200;
const RATE_WINDOW_MS = 5_000;

export class PullProgressView {
  private total = 0; // bytes this run must fetch
  private done = 0;
  private files = { done: 0, count: 0 };
  private readonly inFlight: string[] = []; // paths, in the order they started
  private samples: Array<{ t: number; bytes: number }> = [];
  private lastDraw = 0;
  private lastPlainStep = -1;
  private barShown = false;
  private planned = false;

  constructor(
    private readonly out: ProgressOutput,
    private readonly now: () => number = Date.now,
  ) {}

  onEvent(e: PullEvent): void {
    switch (e.type) {
      case "resolved":
        this.line(`${e.repo}: revision main is commit ${e.commit}${e.gated ? " (gated model)" : ""}`);
        break;
      case "plan": {
        this.total = e.toFetch;
        this.planned = true;
        const cached = e.files.filter((f) => f.cached).length;
        const resumed = e.files.filter((f) => !f.cached && f.resumeFrom > 0).length;
        const parts = [`${e.files.length} files vLLM loads, ${formatBytes(e.totalBytes)}`];
        if (cached > 0) parts.push(`${cached} already downloaded`);
        if (resumed > 0) parts.push(`${resumed} resumed`);
        parts.push(`to download: ${formatBytes(e.toFetch)} (${formatBytes(e.free)} free)`);
        this.line(parts.join("; "));
        this.samples = [{ t: this.now(), bytes: 0 }];
        break;
      }
      case "file":
        if (e.count === 0) break; // the safetensors index, fetched before the plan
        this.files.count = e.count;
        this.inFlight.push(e.path);
        if (!this.out.isTTY) {
          const resume = e.resumeFrom > 0 ? `, resuming at ${formatBytes(e.resumeFrom)}` : "";
          this.line(`file ${e.index}/${e.count}: ${e.path} (${formatBytes(e.size)}${resume})`);
        }
        this.draw(true);
        break;
      case "file-done": {
        if (e.count === 0) break;
        this.files = { done: this.files.done + 1, count: e.count };
        const at = this.inFlight.indexOf(e.path);
        if (at >= 0) this.inFlight.splice(at, 1);
        this.draw(true);
        break;
      }
      case "bytes":
        this.done += e.n;
        this.draw(false);
        break;
      case "retry": {
        const asked = e.asked ? " as it asked" : "";
        const resume = e.resumeAt ? `, resuming at ${formatBytes(e.resumeAt)}` : "";
        this.line(
          `${e.what}: ${e.problem} from ${serverText(e.server)}; retry ${e.attempt} of ${e.maxRetries} in ${formatDuration(e.waitMs / 1000)}${asked}${resume}`,
        );
        break;
      }
      case "done":
        this.clear();
        this.out.write(`done: ${formatBytes(e.fetched)} downloaded; snapshot ${e.snapshotDir}\n`);
        break;
    }
  }

  /** The status line: bar, bytes of the total, rate, ETA, files done and those in flight. */
  statusLine(): string {
    const frac = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const filled = Math.round(frac * BAR_WIDTH);
    const rate = this.rate();
    const eta = rate > 0 ? formatDuration((this.total - this.done) / rate) : "?";
    const pct = `${Math.floor(frac * 100)}`.padStart(3);
    const [first] = this.inFlight;
    const more = this.inFlight.length > 1 ? ` +${this.inFlight.length - 1}` : "";
    const file =
      this.files.count > 0
        ? `  files ${this.files.done}/${this.files.count}${first ? `, now ${first}${more}` : ""}`
        : "";
    return `pulling [${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}] ${pct}% ${formatBytes(this.done)}/${formatBytes(this.total)}  ${formatBytes(rate)}/s  ETA ${eta}${file}`;
  }

  clear(): void {
    if (!this.barShown) return;
    this.out.write("\r\x1b[2K");
    this.barShown = false;
  }

  private rate(): number {
    const t = this.now();
    this.samples.push({ t, bytes: this.done });
    while (this.samples.length > 2 && (this.samples[0] as { t: number }).t < t - RATE_WINDOW_MS)
      this.samples.shift();
    const first = this.samples[0] as { t: number; bytes: number };
    const dt = (t - first.t) / 1000;
    return dt > 0 ? (this.done - first.bytes) / dt : 0;
  }

  /** Redraws the terminal line (called every second, so a stalled transfer shows its rate falling). */
  tick(): void {
    if (this.out.isTTY && this.planned) this.draw(true);
  }

  private draw(force: boolean): void {
    if (!this.planned) return; // the safetensors index comes before the plan: nothing to measure against yet
    const t = this.now();
    if (this.out.isTTY) {
      if (!force && t - this.lastDraw < REDRAW_MS) return;
      this.lastDraw = t;
      this.out.write(`\r\x1b[2K${this.statusLine().slice(0, 150)}`);
      this.barShown = true;
      return;
    }
    if (this.total <= 0) return;
    const step = Math.floor((this.done / this.total) * 10);
    if (step === this.lastPlainStep || step === 0) return;
    this.lastPlainStep = step;
    this.out.write(`${this.statusLine()}\n`);
  }

  private line(text: string): void {
    const wasShown = this.barShown;
    this.clear();
    this.out.write(`${text}\n`);
    if (wasShown) this.draw(true);
  }
}
