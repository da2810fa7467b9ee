import { timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { errors } from "./gateway-error.js";
import { requestHeader } from "./node-bindings.js";

/**
 * Bearer auth against AUTH_TOKEN. The presented token is compared in constant time with timingSafeEqual; a
 * token of another length is compared with the expected one against itself, so the time taken is the same
 * whatever is presented and nothing leaks the token's length. Returns a pass-through middleware when no
 * token is configured.
 */
export function bearerAuth(token: string | null): MiddlewareHandler {
  if (token === null || token === "") return async (_c, next) => next();
  const expected = Buffer.from(token, "utf8");
  const matches = (presented: string): boolean => {
    const given = Buffer.from(presented, "utf8");
    if (given.length !== expected.length) {
      timingSafeEqual(expected, expected);
      return false;
    }
    return timingSafeEqual(given, expected);
  };
  return async (c, next) => {
    const header = requestHeader(c, "authorization");
    if (header === undefined) {
      throw errors.unauthorized("Missing bearer token: send 'Authorization: Bearer <AUTH_TOKEN>'.");
    }
    const match = /^Bearer[ \t]+(.+)$/i.exec(header.trim());
    if (!match?.[1] || !matches(match[1].trim())) {
      throw errors.unauthorized("Invalid bearer token: send 'Authorization: Bearer <AUTH_TOKEN>'.");
    }
    await next();
  };
}
