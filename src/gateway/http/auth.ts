import { timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { errors } from "./gateway-error.js";
import { requestHeader } from "./node-bindings.js";

export type BearerCheck = "ok" | "missing" | "invalid";

/**
 * Checks "Authorization: Bearer <token>" against AUTH_TOKEN. The presented token is compared in constant time with
 * timingSafeEqual; a token of another length is compared with the expected one against itself, so the time taken
 * is the same whatever is presented and nothing leaks the token's length.
 */
export function bearerCheck(token: string): (header: string | undefined) => BearerCheck {
  const expected = Buffer.from(token, "utf8");
  const matches = (presented: string): boolean => {
    const given = Buffer.from(presented, "utf8");
    if (given.length !== expected.length) {
      timingSafeEqual(expected, expected);
      return false;
    }
    return timingSafeEqual(given, expected);
  };
  return (header) => {
    if (header === undefined) return "missing";
    const match = /^Bearer[ \t]+(.+)$/i.exec(header.trim());
    return match?.[1] && matches(match[1].trim()) ? "ok" : "invalid";
  };
}

/** The 401 for a bearer check that did not pass. */
export function bearerRefusal(check: Exclude<BearerCheck, "ok">) {
  return check === "missing"
    ? errors.unauthorized("Missing bearer token: send 'Authorization: Bearer <AUTH_TOKEN>'.")
    : errors.unauthorized("Invalid bearer token: send 'Authorization: Bearer <AUTH_TOKEN>'.");
}

/** Bearer auth against AUTH_TOKEN; a pass-through middleware when no token is configured. */
export function bearerAuth(token: string | null): MiddlewareHandler {
  if (token === null || token === "") return async (_c, next) => next();
  const check = bearerCheck(token);
  return async (c, next) => {
    const result = check(requestHeader(c, "authorization"));
    if (result !== "ok") throw bearerRefusal(result);
    await next();
  };
}
