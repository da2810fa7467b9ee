/** One field problem in a request body (listed in the 400 message on /llm, as `param` on /v1). */
export interface FieldIssue {
  loc: Array<string | number>; // e.g. ["body", "messages", 0, "role"]
  msg: string;
  type: string;
}

export interface GatewayErrorOptions {
  retryAfter?: number; // seconds
  param?: string | null;
  issues?: FieldIssue[];
  cause?: unknown;
}

/**
 * Every error the gateway answers with. Thrown anywhere in a route; `app.onError` maps it once to the route's
 * wire shape: `{"detail":{"msg"}}` on /llm and the AI-runner routes, `{"error":{…}}` on /v1/*.
 */
export class GatewayError extends Error {
  override readonly name = "GatewayError";
  readonly retryAfter: number | undefined;
  readonly param: string | null;
  readonly issues: FieldIssue[] | undefined;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options: GatewayErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfter = options.retryAfter;
    this.param = options.param ?? null;
    this.issues = options.issues;
  }
}

/** The detail as the end of a sentence: a full stop added unless it already ends with one (or ? or !). */
function sentence(detail: string): string {
  const trimmed = detail.trimEnd();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

export const errors = {
  unauthorized: (message: string) => new GatewayError(401, "unauthorized", message),
  forbidden: (message: string) => new GatewayError(403, "forbidden", message),
  invalidJson: (detail: string) =>
    new GatewayError(
      400,
      "invalid_json",
      `The request body is not valid JSON (${detail}); send a JSON object.`,
    ),
  invalidBody: (message: string, param: string | null, issues?: FieldIssue[]) =>
    new GatewayError(400, "invalid_request", message, { param, ...(issues ? { issues } : {}) }),
  bodyTooLarge: (limit: number) =>
    new GatewayError(
      413,
      "body_too_large",
      `The request body is larger than MAX_BODY_BYTES (${limit} bytes); send a smaller request or raise MAX_BODY_BYTES.`,
    ),
  notFound: (method: string, path: string) =>
    new GatewayError(404, "not_found", `No route for ${method} ${path}.`),
  busy: (capacity: number) =>
    new GatewayError(
      429,
      "queue_full",
      `The runner is at capacity: ${capacity} requests admitted (MAX_NUM_SEQS running + QUEUE_SIZE waiting); retry later.`,
      { retryAfter: 1 },
    ),
  notReady: (message: string, retryAfter: number) =>
    new GatewayError(503, "not_ready", message, { retryAfter }),
  ledgerUnwritable: (reason: string) =>
    new GatewayError(
      503,
      "ledger_unwritable",
      `The runner cannot record requests right now (${reason}), so it is not taking any; retry later.`,
      { retryAfter: 5 },
    ),
  engineUnreachable: (detail: string, cause?: unknown) =>
    new GatewayError(502, "engine_unreachable", `The engine could not be reached: ${sentence(detail)}`, {
      cause,
    }),
  /** The client went away: nothing can be sent (499 is for the ledger and logs). */
  clientClosed: (message = "The client closed the request.") =>
    new GatewayError(499, "client_closed", message),
  engineFailed: (detail: string, cause?: unknown) =>
    new GatewayError(502, "engine_error", `The engine failed during the request: ${sentence(detail)}`, {
      cause,
    }),
};
