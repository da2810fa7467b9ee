// ALLOWED_HOSTS and what counts as a loopback listen address: the gateway's Host check (DNS rebinding) applies
// when it listens on loopback without AUTH_TOKEN (src/gateway/http/host-check.ts).
import { isIP } from "node:net";

// One DNS name: labels of letters, digits, "-" and "_" (not at a label's ends), dot-separated, ≤ 253 characters.
const LABEL = "[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?";
const HOST_NAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);

/**
 * Parses ALLOWED_HOSTS: host names separated by commas (`runner.lan,gpu-node-1`), compared case-insensitively
 * with the request's Host (its port ignored). Empty = none. Returns the names, or the problem and the fix.
 */
export function parseAllowedHosts(raw: string): string[] | { problem: string } {
  const names: string[] = [];
  for (const part of raw.split(",")) {
    const name = part.trim().toLowerCase().replace(/\.$/, "");
    if (name === "") continue;
    const example = 'e.g. "runner.lan,gpu-node-1"';
    if (name === "*")
      return {
        problem: `cannot be "*": that would answer any name a DNS-rebinding page points at this machine. List the names clients use, ${example}, or set AUTH_TOKEN (then no Host check is made).`,
      };
    if (/[/:]/.test(name) && isIP(name) === 0)
      return {
        problem: `has ${JSON.stringify(part.trim())}: write host names only, without scheme, port or path, ${example}. IP addresses are always allowed.`,
      };
    if (isIP(name) === 0 && !HOST_NAME.test(name))
      return {
        problem: `has ${JSON.stringify(part.trim())}, which is not a host name. List host names, ${example}.`,
      };
    names.push(name);
  }
  return names;
}

/** Whether the gateway's HOST is a loopback address (only this machine can connect). */
export function isLoopbackListen(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || /^::ffff:127\./.test(h) || /^(0{1,4}:){7}0{0,3}1$/.test(h);
  return false;
}
