import type { SupervisorEvent, SupervisorSnapshot } from "../supervisor/types.js";

// Loading progress for `llm-runner start`: a redrawn bar on a terminal, plain lines otherwise.

export interface ProgressOutput {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

const BAR_WIDTH = 30;

export function renderBar(progress: number | null, detail: string): string {
  if (progress === null) return `loading… ${detail}`.trimEnd();
  const filled = Math.round(progress * BAR_WIDTH);
  const pct = `${Math.round(progress * 100)}`.padStart(3);
  return `loading [${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}] ${pct}% ${detail}`.trimEnd();
}

/**
 * Follows supervisor events and shows loading progress. On a TTY the bar is one line redrawn in place; other
 * output must go through `interrupt()` so the bar is cleared first and redrawn after.
 */
export class ProgressView {
  private barShown = false;
  private lastLine = "";
  private lastPlainPct = -1;

  constructor(private readonly out: ProgressOutput) {}

  onEvent(event: SupervisorEvent): void {
    if (event.type === "progress") this.show(event.progress, event.detail);
    if (event.type === "state" && event.to !== "loading" && event.to !== "starting") this.clear();
  }

  show(progress: number | null, detail: string): void {
    if (this.out.isTTY) {
      this.lastLine = renderBar(progress, detail.slice(0, 60));
      this.out.write(`\r\x1b[2K${this.lastLine}`);
      this.barShown = true;
      return;
    }
    // Plain output: one line per 5 % step (or per detail when progress is unknown), no carriage returns.
    const pct = progress === null ? -1 : Math.floor(progress * 20);
    if (progress !== null && pct === this.lastPlainPct) return;
    this.lastPlainPct = pct;
    this.out.write(`${renderBar(progress, detail)}\n`);
  }

  /** Runs fn (which writes a line) with the bar out of the way. */
  interrupt(fn: () => void): void {
    if (!this.barShown) {
      fn();
      return;
    }
    this.out.write("\r\x1b[2K");
    fn();
    this.out.write(this.lastLine);
  }

  clear(): void {
    if (!this.barShown) return;
    this.out.write("\r\x1b[2K");
    this.barShown = false;
  }
}

export function readyLine(url: string, snap: SupervisorSnapshot): string {
  return `llm-runner is ready: ${url}  (model ${snap.modelId}, engine ${snap.engine} via ${snap.driver})\n  try: curl -s ${url}/health`;
}

export function failedLine(snap: SupervisorSnapshot): string {
  const err = snap.lastError;
  if (!err) return "the engine failed";
  const lines = [`engine failed (${err.reason}): ${err.message}`];
  if (err.hint) lines.push(`fix: ${err.hint}`);
  if (err.logTail.length > 0)
    lines.push("last engine log lines:", ...err.logTail.slice(-15).map((l) => `  ${l}`));
  return lines.join("\n");
}
