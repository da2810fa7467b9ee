import type { MiddlewareHandler } from "hono";
import type { CorsOrigins } from "../../config/cors-origins.js";
import { GatewayError } from "./gateway-error.js";
import { requestHeader } from "./node-bindings.js";

/**
 * Without AUTH_TOKEN nothing tells a client the operator chose from a web page the user happens to open, except
 * the `Origin` browsers add to every cross-origin request (and every POST): requests from an origin not in
 * CORS_ORIGINS are refused before anything runs. Clients that are not browsers send no Origin and pass.
 */
export function originCheck(origins: CorsOrigins): MiddlewareHandler {
  return async (c, next) => {
    const origin = requestHeader(c, "origin");
    if (origin === undefined || origins === "*" || origins.includes(origin)) return next();
    throw new GatewayError(
      403,
      "origin_not_allowed",
      `Requests from the web page origin ${JSON.stringify(origin.slice(0, 200))} are refused: without AUTH_TOKEN only origins listed in CORS_ORIGINS may call this runner, so that any site a user opens cannot use it. Add the origin to CORS_ORIGINS (comma-separated), or set AUTH_TOKEN.`,
    );
  };
}
