import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context } from "hono";

/** The Node request and response behind a Hono context (HttpBindings of @hono/node-server). */
export interface NodeBindings {
  incoming: IncomingMessage;
  outgoing: ServerResponse;
}

/**
 * The Node objects when the app runs under @hono/node-server, null under app.request() (tests). Reading them
 * directly spares the server from building a full web Request (headers, AbortController, body stream) per call.
 */
export function nodeBindings(c: Context): NodeBindings | null {
  const env = c.env as Partial<NodeBindings> | undefined;
  if (env?.incoming === undefined || env.outgoing === undefined) return null;
  // HTTP/2 bindings have other types; the gateway serves HTTP/1.1 only, so anything else takes the web path.
  if (typeof env.outgoing.writeHead !== "function" || !Array.isArray(env.incoming.rawHeaders)) return null;
  return env as NodeBindings;
}

/**
 * A request header as web Headers.get() gives it (repeated headers joined with ", "), read from the raw Node
 * headers, so that both paths see the same value.
 */
export function requestHeader(c: Context, name: string): string | undefined {
  const node = nodeBindings(c);
  if (node === null) return c.req.header(name);
  const raw = node.incoming.rawHeaders;
  let value: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i] as string;
    if (key.length === name.length && key.toLowerCase() === name) {
      const v = raw[i + 1] as string;
      value = value === undefined ? v : `${value}, ${v}`;
    }
  }
  return value;
}
