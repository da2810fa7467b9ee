// The engines' log files in LLM_RUNNER_HOME: engine.log for replica 0 (the only one without REPLICAS), and
// engine-<N>.log for replica N. A full or read-only disk loses log lines; it never brings the runner down.
import { createWriteStream, type WriteStream } from "node:fs";
import type { Logger } from "../log/logger.js";

/** engine.log → engine.log for replica 0, engine-2.log for replica 2. */
export function engineLogFile(engineLog: string, replica: number): string {
  return replica === 0 ? engineLog : engineLog.replace(/\.log$/, `-${replica}.log`);
}

/** engine.log → engine-m2.log for the third model of LLM_RUNNER_MODELS_FILE (its replica N: engine-m2-N.log). */
export function modelEngineLog(engineLog: string, modelIndex: number): string {
  return modelIndex === 0 ? engineLog : engineLog.replace(/\.log$/, `-m${modelIndex}.log`);
}

export class EngineLogs {
  private readonly files = new Map<number, WriteStream>();

  constructor(
    private readonly engineLog: string,
    private readonly logger: Logger,
  ) {}

  /** Opens replica N's file (truncated at the runner's start); already open: kept, so a reload appends. */
  open(replica: number): void {
    if (this.files.has(replica)) return;
    const file = engineLogFile(this.engineLog, replica);
    const stream = createWriteStream(file, { flags: "w", mode: 0o600 });
    let failed = false;
    stream.on("error", (err) => {
      if (failed) return;
      failed = true;
      this.logger.error(
        { err, file },
        "an engine log cannot be written; that engine's output is no longer kept",
      );
    });
    this.files.set(replica, stream);
  }

  write(replica: number, line: string): void {
    this.files.get(replica)?.write(`${line}\n`);
  }

  /** Flushes and closes every file. */
  async end(): Promise<void> {
    await Promise.all([...this.files.values()].map((s) => new Promise<void>((r) => s.end(r))));
  }
}
