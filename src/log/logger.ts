import pino from "pino";
import { prettyStream } from "./pretty-stream.js";

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
  "env.OTEL_EXPORTER_OTLP_TRACES_HEADERS",
  "headers.authorization",
  "req.headers.authorization",
];

export interface LoggerOptions {
  level?: string;
  /** Where to write: a stream (default process.stdout). */
  out?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Human-readable lines instead of JSON (default: when out is a TTY). */
  pretty?: boolean;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const out = options.out ?? process.stdout;
  const pretty = options.pretty ?? out.isTTY === true;
  const dest = pretty ? prettyStream(out, out.isTTY === true) : out;
  return pino(
    { level: options.level ?? "info", redact: { paths: REDACT, censor: "***" }, base: undefined },
    dest as pino.DestinationStream,
  );
}

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
