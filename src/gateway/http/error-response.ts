import { HTTPException } from "hono/http-exception";
import { GatewayError } from "./gateway-error.js";

/** Which error body a path answers with. */
export type WireShape = "ai-runner" | "openai";

export function wireShapeFor(path: string): WireShape {
  return path === "/v1" || path.startsWith("/v1/") ? "openai" : "ai-runner";
}

// vLLM names its error types after the exception class; we follow it so relayed engine errors and ours match.
const OPENAI_TYPES: Record<number, string> = {
  400: "BadRequestError",
  401: "AuthenticationError",
  403: "PermissionDeniedError",
  404: "NotFoundError",
  413: "RequestTooLargeError",
  422: "BadRequestError",
  429: "RateLimitError",
  500: "InternalServerError",
  502: "EngineError",
  503: "ServiceUnavailableError",
};

export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof HTTPException)
    return new GatewayError(err.status, "http_error", err.message, { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new GatewayError(500, "internal_error", `Internal error in the gateway: ${message}`, { cause: err });
}

/** The JSON body for an error in the given wire shape. */
export function errorBody(err: GatewayError, shape: WireShape): unknown {
  if (shape === "openai") {
    return {
      error: {
        message: err.message,
        type: OPENAI_TYPES[err.status] ?? "BadRequestError",
        param: err.param,
        code: err.status,
      },
    };
  }
  // The contract's HTTPError; /llm's field problems are listed inside msg (go-livepeer reads only detail.msg).
  return { detail: { msg: err.message } };
}

export function errorHeaders(err: GatewayError): Record<string, string> {
  const headers: Record<string, string> = {};
  if (err.status === 401) headers["www-authenticate"] = "Bearer";
  if (err.retryAfter !== undefined) headers["retry-after"] = String(Math.max(1, Math.ceil(err.retryAfter)));
  return headers;
}

export function errorResponse(
  err: GatewayError,
  shape: WireShape,
  extraHeaders: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(errorBody(err, shape)), {
    status: err.status,
    headers: { "content-type": "application/json", ...errorHeaders(err), ...extraHeaders },
  });
}
