import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { errors } from "./gateway-error.js";

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/**
 * Bearer auth against AUTH_TOKEN. The token's digest is computed once here; each request hashes only what it
 * presents and compares digests in constant time (equal lengths, so nothing leaks the token's length either).
 * Returns a pass-through middleware when no token is configured.
 */
export function bearerAuth(token: string | null): MiddlewareHandler {
  if (token === null || token === "") return async (_c, next) => next();
  const expected = digest(token);
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (header === undefined) {
      throw errors.unauthorized("Missing bearer token: send 'Authorization: Bearer <AUTH_TOKEN>'.");
    }
    const match = /^Bearer[ \t]+(.+)$/i.exec(header.trim());
    if (!match?.[1] || !timingSafeEqual(digest(match[1].trim()), expected)) {
      throw errors.unauthorized("Invalid bearer token: send 'Authorization: Bearer <AUTH_TOKEN>'.");
    }
    await next();
  };
}
