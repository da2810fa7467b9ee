// A worker's logger: its records go to the primary over the IPC channel and are written by the runner's own
// logger (one log, one format, the file of a detached runner), tagged with the worker's number.
import type { Logger } from "../../log/logger.js";
import type { LogLevel, WorkerToPrimary } from "./messages.js";

const ORDER: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 };

/** Errors do not survive JSON: their name, message and stack are sent instead. */
function plain(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    out[key] =
      value instanceof Error ? { type: value.name, message: value.message, stack: value.stack } : value;
  }
  return out;
}

export function ipcLogger(
  post: (message: WorkerToPrimary) => void,
  level: LogLevel,
  bindings: Record<string, unknown> = {},
): Logger {
  const at = (lvl: LogLevel) => (obj: object | string, msg?: string) => {
    if (ORDER[lvl] < ORDER[level]) return;
    const record =
      typeof obj === "string" ? { obj: {}, msg: obj } : { obj: plain(obj as Record<string, unknown>), msg };
    post({
      type: "log",
      level: lvl,
      bindings,
      obj: record.obj,
      ...(record.msg !== undefined ? { msg: record.msg } : {}),
    });
  };
  return {
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (more) => ipcLogger(post, level, { ...bindings, ...more }),
  };
}

/** The primary writes a worker's record with its own logger. */
export function writeWorkerLog(
  logger: Logger,
  worker: number,
  message: Extract<WorkerToPrimary, { type: "log" }>,
): void {
  const target = logger.child({ ...message.bindings, worker });
  target[message.level](message.obj, message.msg);
}
