// What went wrong at the engine, in the words a client's error frame and the ledger row give it.
import { isRecord } from "./json-values.js";

/** The engine sent an error event in the middle of a stream. */
export class EngineReportedError extends Error {
  override readonly name = "EngineReportedError";
}

/** The engine sent something that is not what its API promises. */
export class EngineProtocolError extends Error {
  override readonly name = "EngineProtocolError";
}

/** The message of a vLLM/OpenAI error body, or the text itself when it is not one. */
export function engineErrorMessage(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (isRecord(parsed)) {
      const e = parsed.error;
      if (isRecord(e) && typeof e.message === "string") return e.message;
      if (typeof e === "string") return e;
      if (typeof parsed.message === "string") return parsed.message;
      if (isRecord(parsed.detail) && typeof parsed.detail.msg === "string") return parsed.detail.msg;
    }
  } catch {
    // not JSON: the text is the message
  }
  return body.trim().slice(0, 500) || "(empty body)";
}

/** Who ended an engine request early, and why (Exchange.abortCause and abortReason). */
export interface AbortState {
  abortCause: string | null;
  abortReason: string | null;
}

/** Why an engine request failed, in words for the client's error and the ledger. */
export function failureMessage(aborted: AbortState, err: unknown): string {
  if (aborted.abortCause === "engine")
    return `the engine stopped during the request (${aborted.abortReason})`;
  if (aborted.abortCause === "shutdown") return `the runner is shutting down (${aborted.abortReason})`;
  if (err instanceof EngineReportedError) return `the engine reported an error: ${err.message}`;
  if (err instanceof EngineProtocolError) return err.message;
  return `the connection to the engine failed: ${err instanceof Error ? err.message : String(err)}`;
}
