import pino from "pino";

/** The logging surface modules receive (pino's Logger satisfies it). */
export interface Logger {
  trace(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

// Field names that may carry secrets; pino replaces their values before anything is written.
const REDACT = [
  "authToken",
  "hfToken",
  "apiKey",
  "env.VLLM_API_KEY",
  "env.HF_TOKEN",
  "headers.authorization",
  "req.headers.authorization",
];

export interface LoggerOptions {
  level?: string;
  /** A file descriptor or path to write to (default: stdout). */
  destination?: number | string;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const dest = pino.destination({
    dest: options.destination ?? 1,
    sync: false,
    mkdir: typeof options.destination === "string",
  });
  return pino(
    { level: options.level ?? "info", redact: { paths: REDACT, censor: "***" }, base: undefined },
    dest,
  );
}

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
