import { isIP } from "node:net";
import type { MiddlewareHandler } from "hono";
import { GatewayError } from "./gateway-error.js";
import { nodeBindings, requestHeader } from "./node-bindings.js";

/**
 * DNS-rebinding guard for a gateway on loopback without AUTH_TOKEN: a page on evil.example whose name is made to
 * resolve to 127.0.0.1 reaches us with `Host: evil.example`, so only Hosts no public DNS can point here are
 * answered: IP literals (no lookup happened), `localhost` and `*.localhost` (RFC 6761 §6.3), and the names the
 * operator listed in ALLOWED_HOSTS. A missing or empty host is refused (ollama PR #17721: `Host: :11434`).
 */
export function hostCheck(allowedHosts: readonly string[], listen: string): MiddlewareHandler {
  const listed = new Set(allowedHosts);
  return async (c, next) => {
    // app.request() (tests) sends no Host header: its URL's host stands in for it.
    const raw = nodeBindings(c) === null ? new URL(c.req.url).host : (requestHeader(c, "host") ?? "");
    const name = hostName(raw);
    if (name !== "" && (isIP(name) !== 0 || isLocalhost(name) || listed.has(name))) return next();
    throw new GatewayError(
      403,
      "host_not_allowed",
      `${name === "" ? "The request has no host name in its Host header" : `The host name ${JSON.stringify(raw.slice(0, 100))} is not allowed`}: this runner listens on ${listen} without AUTH_TOKEN, so it answers only requests addressed to an IP address, localhost or a name in ALLOWED_HOSTS (a guard against DNS rebinding). Call it as http://127.0.0.1:<port>, add the name to ALLOWED_HOSTS, or set AUTH_TOKEN.`,
    );
  };
}

/** The host of a Host header value, lower-case, without port, brackets or a final dot; "" when there is none. */
export function hostName(raw: string): string {
  const value = raw.trim().toLowerCase();
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(value);
  if (bracketed) return bracketed[1] as string;
  const colon = value.lastIndexOf(":");
  const host = colon >= 0 ? value.slice(0, colon) : value;
  return host.replace(/\.$/, "");
}

function isLocalhost(name: string): boolean {
  return name === "localhost" || name.endsWith(".localhost");
}
