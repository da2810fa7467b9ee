import type { MiddlewareHandler } from "hono";
import type { CorsOrigins } from "../../config/cors-origins.js";
import { errorResponse } from "./error-response.js";
import { GatewayError } from "./gateway-error.js";
import { nodeBindings, requestHeader } from "./node-bindings.js";

// What browser code may read from our answers besides the CORS-safelisted headers: the request id and prices.
const EXPOSED = [
  "x-request-id",
  "x-llm-price-quote",
  "x-llm-price-usage",
  "x-llm-currency",
  "retry-after",
  "www-authenticate",
].join(", ");
const PREFLIGHT_MAX_AGE_S = "600";

function allowHeaders(origins: CorsOrigins, origin: string): Record<string, string> {
  // A listed origin is echoed, so caches must key on Origin; "*" is the same answer for everyone.
  return origins === "*"
    ? { "access-control-allow-origin": "*" }
    : { "access-control-allow-origin": origin, vary: "Origin" };
}

/**
 * CORS for the OpenAI routes (/v1/*), so browser apps (openai-node with dangerouslyAllowBrowser, playgrounds)
 * can call the runner, as they can call vLLM, which allows every origin by default. Mounted before auth: a
 * preflight carries no Authorization header (browsers never send it there) and is answered here, without
 * reaching auth or the engine. Returns null when CORS_ORIGINS is empty (CORS off).
 */
export function corsMiddleware(origins: CorsOrigins): MiddlewareHandler | null {
  if (origins !== "*" && origins.length === 0) return null;
  return async (c, next) => {
    const origin = requestHeader(c, "origin");
    if (origin === undefined) return next();
    const allowed = origins === "*" || origins.includes(origin);
    const requestedMethod = requestHeader(c, "access-control-request-method");
    if (c.req.method === "OPTIONS" && requestedMethod !== undefined) {
      if (!allowed) {
        const err = new GatewayError(
          403,
          "origin_not_allowed",
          `The origin ${origin} is not allowed: add it to CORS_ORIGINS (comma-separated), or set CORS_ORIGINS=* to allow any origin.`,
        );
        return errorResponse(err, "openai", { vary: "Origin" });
      }
      return new Response(null, {
        status: 204,
        headers: {
          ...allowHeaders(origins, origin),
          "access-control-allow-methods": "GET, POST, OPTIONS",
          // Echoed: a wildcard would not cover Authorization (Fetch standard), which every client sends.
          "access-control-allow-headers": requestHeader(c, "access-control-request-headers") ?? "",
          "access-control-max-age": PREFLIGHT_MAX_AGE_S,
        },
      });
    }
    // An origin not allowed gets no CORS headers: the browser withholds the answer from the page.
    if (!allowed) return next();
    const headers = { ...allowHeaders(origins, origin), "access-control-expose-headers": EXPOSED };
    // Streams are written straight to the Node response (sse-response.ts): their headers must be there first.
    const node = nodeBindings(c);
    if (node !== null)
      for (const [name, value] of Object.entries(headers)) node.outgoing.setHeader(name, value);
    await next();
    if (c.res.headers.get("x-hono-already-sent") !== null) return;
    try {
      for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
    } catch {
      // immutable headers (a relayed fetch Response): copy the response with them
      c.res = new Response(c.res.body, c.res);
      for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
    }
  };
}
