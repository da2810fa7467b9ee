// Download progress for `pull` (and `start` when it pulls first): on a terminal one line redrawn in place with
// bytes of the total, rate, ETA, files done and the files in flight; otherwise plain lines (one per file, one
// per 10 % of the bytes), so logs and CI output stay readable. A retry gets its own line with its wait.

import { formatBytes, formatDuration } from "../models/format-bytes.js";
import type { PullEvent } from "../models/pull-model.js";
import { PullTracker } from "../models/pull-tracker.js";
import { serverText } from "../models/temporary-failure.js";
import type { ProgressOutput } from "./progress.js";

const BAR_WIDTH = 24;
const REDRAW_MS = 200;

export class PullProgressView {
  private readonly tracker: PullTracker;
  private lastDraw = 0;
  private lastPlainStep = -1;
  private barShown = false;

  constructor(
    private readonly out: ProgressOutput,
    private readonly now: () => number = Date.now,
  ) {
    this.tracker = new PullTracker(now);
  }

  onEvent(e: PullEvent): void {
    this.tracker.onEvent(e);
    switch (e.type) {
      case "resolved":
        this.line(`${e.repo}: revision main is commit ${e.commit}${e.gated ? " (gated model)" : ""}`);
        break;
      case "plan": {
        const cached = e.files.filter((f) => f.cached).length;
        const resumed = e.files.filter((f) => !f.cached && f.resumeFrom > 0).length;
        const parts = [`${e.files.length} files vLLM loads, ${formatBytes(e.totalBytes)}`];
        if (cached > 0) parts.push(`${cached} already downloaded`);
        if (resumed > 0) parts.push(`${resumed} resumed`);
        parts.push(`to download: ${formatBytes(e.toFetch)} (${formatBytes(e.free)} free)`);
        this.line(parts.join("; "));
        break;
      }
      case "file":
        if (e.count === 0) break; // the safetensors index, fetched before the plan
        if (!this.out.isTTY) {
          const resume = e.resumeFrom > 0 ? `, resuming at ${formatBytes(e.resumeFrom)}` : "";
          this.line(`file ${e.index}/${e.count}: ${e.path} (${formatBytes(e.size)}${resume})`);
        }
        this.draw(true);
        break;
      case "file-done":
        if (e.count === 0) break;
        this.draw(true);
        break;
      case "bytes":
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
    const t = this.tracker;
    const frac = t.fraction();
    const filled = Math.round(frac * BAR_WIDTH);
    const rate = t.rate();
    const eta = t.eta(rate);
    const pct = `${Math.floor(frac * 100)}`.padStart(3);
    const [first] = t.inFlight;
    const more = t.inFlight.length > 1 ? ` +${t.inFlight.length - 1}` : "";
    const file =
      t.files.count > 0
        ? `  files ${t.files.done}/${t.files.count}${first ? `, now ${first}${more}` : ""}`
        : "";
    return `pulling [${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}] ${pct}% ${formatBytes(t.done)}/${formatBytes(t.total)}  ${formatBytes(rate)}/s  ETA ${eta === null ? "?" : formatDuration(eta)}${file}`;
  }

  clear(): void {
    if (!this.barShown) return;
    this.out.write("\r\x1b[2K");
    this.barShown = false;
  }

  /** Redraws the terminal line (called every second, so a stalled transfer shows its rate falling). */
  tick(): void {
    if (this.out.isTTY && this.tracker.planned) this.draw(true);
  }

  private draw(force: boolean): void {
    if (!this.tracker.planned) return; // the safetensors index comes before the plan: nothing to measure against yet
    const t = this.now();
    if (this.out.isTTY) {
      if (!force && t - this.lastDraw < REDRAW_MS) return;
      this.lastDraw = t;
      this.out.write(`\r\x1b[2K${this.statusLine().slice(0, 150)}`);
      this.barShown = true;
      return;
    }
    if (this.tracker.total <= 0) return;
    const step = Math.floor(this.tracker.fraction() * 10);
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
