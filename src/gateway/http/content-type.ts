import type { MiddlewareHandler } from "hono";
import { GatewayError } from "./gateway-error.js";
import { requestHeader } from "./node-bindings.js";

/**
 * A POST must say `Content-Type: application/json`. A web page can send text/plain, form or typeless bodies to
 * any site without asking first; application/json makes the browser send a CORS preflight, which an origin not
 * in CORS_ORIGINS fails (Fetch standard, "CORS-safelisted request-header"). Mounted when AUTH_TOKEN is unset.
 */
export function requireJsonContentType(): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method !== "POST") return next();
    const type = requestHeader(c, "content-type");
    if (type !== undefined && isJson(type)) return next();
    throw new GatewayError(
      415,
      "unsupported_media_type",
      `${type === undefined ? "The request has no Content-Type" : `The request's Content-Type is ${JSON.stringify(type.slice(0, 100))}`}: send the JSON body with 'Content-Type: application/json' (curl: -H 'content-type: application/json'). Required while AUTH_TOKEN is unset, so that web pages cannot post to this runner.`,
    );
  };
}

/** application/json, with any parameters (charset=utf-8), in any case. */
function isJson(type: string): boolean {
  return type.split(";", 1)[0]?.trim().toLowerCase() === "application/json";
}
