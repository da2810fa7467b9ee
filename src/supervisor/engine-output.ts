// What one engine start has said so far: the last log lines (kept for the error an operator sees), its loading
// progress, and its fatal line if it printed one. Read from the driver's onLog/onEvent; reset at each start.
import type { EngineDriver, EngineHandle } from "../engine/engine-driver.js";
import type { Logger } from "../log/logger.js";
import type { LifecycleEvent } from "../protocol/lifecycle.js";
import { errorMessage } from "./engine-failure.js";

const LOG_TAIL_LINES = 50;

export type FatalEvent = Extract<LifecycleEvent, { event: "fatal" }>;

export class EngineOutput {
  logTail: string[] = [];
  progress: number | null = null;
  progressDetail: string | null = null;
  fatal: FatalEvent | null = null;

  reset(): void {
    this.logTail = [];
    this.progress = null;
    this.progressDetail = null;
    this.fatal = null;
  }

  line(line: string): void {
    this.logTail.push(line);
    if (this.logTail.length > LOG_TAIL_LINES) this.logTail.shift();
  }

  /** Records a loading line's progress (a line without a figure keeps the last one). */
  loading(event: Extract<LifecycleEvent, { event: "loading" }>): void {
    if (event.progress !== null) this.progress = event.progress;
    this.progressDetail = event.detail;
  }
}

/** Removes engines of this instance left by an earlier run (at start) or by a raced start (at stop). */
export async function sweepOrphans(
  driver: EngineDriver,
  logger: Logger,
  when: "start" | "stop",
): Promise<void> {
  try {
    const removed = await driver.removeOrphans();
    if (removed.length === 0) return;
    if (when === "start") {
      logger.warn({ removed }, `removed ${removed.length} orphaned engine(s) left by an earlier run`);
    } else {
      logger.warn({ removed }, "removed engines left over at stop");
    }
  } catch (err) {
    logger.warn(
      { err: errorMessage(err) },
      when === "start"
        ? "could not look for orphaned engines"
        : "could not look for left-over engines at stop",
    );
  }
}

/** Releases what a dead engine still holds (a stopped container keeps its name; a process group may keep workers). */
export function releaseDeadEngine(dead: EngineHandle, logger: Logger): Promise<void> {
  return dead.stop(0).catch((err: unknown) => {
    logger.warn({ err: errorMessage(err) }, "could not clean up the dead engine");
  });
}
