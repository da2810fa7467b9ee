import { GatewayError } from "./gateway-error.js";

/** The /llm route (and its trailing-slash twin). */
export function isLlmPath(path: string): boolean {
  return path === "/llm" || path === "/llm/";
}

/**
 * The status /llm answers with in place of `status`. go-livepeer reads a non-streaming /llm answer as an error only
 * when it is JSON with 400, 401 or 500 (ai/worker/worker.go, the `switch resp.StatusCode()` after the
 * non-streaming call); any other status is taken as a success with no body: the orchestrator debits the user for
 * max_tokens and answers 200 `null`. So on /llm: the client's fault → 400, auth → 401, every server-side refusal or
 * failure (queue full, loading, restarting, engine error, timeout) → 500. 499 (the client went away) is kept for
 * the ledger and logs: nothing is sent then. The streaming path gets the same statuses before its first byte.
 */
export function llmWireStatus(status: number): number {
  if (status < 400 || status === 401 || status === 499) return status;
  // 429 (queue full) and 408 (timed out) are the runner's state, not the request's fault.
  if (status === 429 || status === 408 || status >= 500) return 500;
  return 400;
}

/** The status `path` answers with in place of `status`: /llm's folding above, any other path the status itself. */
export function wireStatus(path: string, status: number): number {
  return isLlmPath(path) ? llmWireStatus(status) : status;
}

/** The error as `path` answers it: its wire status, with the message, Retry-After and field issues kept. */
export function wireError(path: string, err: GatewayError): GatewayError {
  const status = wireStatus(path, err.status);
  if (status === err.status) return err;
  return new GatewayError(status, err.code, err.message, {
    ...(err.retryAfter === undefined ? {} : { retryAfter: err.retryAfter }),
    param: err.param,
    ...(err.issues ? { issues: err.issues } : {}),
    cause: err,
  });
}
