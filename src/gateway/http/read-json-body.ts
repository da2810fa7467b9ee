import type { IncomingMessage } from "node:http";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { errors } from "./gateway-error.js";
import { assertCleanJson, assertJsonDepth, decodeUtf8Strict } from "./json-body-checks.js";
import { nodeBindings } from "./node-bindings.js";

/**
 * The request body parsed as JSON, or a 400 saying it is not valid JSON (413 over `maxBytes`), or holds a value
 * the engine cannot take as sent (json-body-checks.ts).
 */
export async function readJsonBody(c: Context, maxBytes: number): Promise<unknown> {
  const node = nodeBindings(c);
  const text = node
    ? await readIncomingText(node.incoming, maxBytes)
    : decodeUtf8Strict(new Uint8Array(await c.req.arrayBuffer()));
  if (text.trim() === "") throw errors.invalidJson("the body is empty");
  assertJsonDepth(text);
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch (err) {
    throw errors.invalidJson(err instanceof Error ? err.message : String(err));
  }
  assertCleanJson(body);
  return body;
}

/**
 * MAX_BODY_BYTES before the route runs: under Node, a declared Content-Length over the limit is refused
 * before any byte is read, and readJsonBody counts the bytes that really come (chunked or not); under
 * app.request() hono's bodyLimit does both.
 */
export function bodyLimitFor(maxBytes: number): MiddlewareHandler {
  const web = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw errors.bodyTooLarge(maxBytes);
    },
  });
  return async (c, next) => {
    const node = nodeBindings(c);
    if (node === null) return web(c, next);
    const declared = node.incoming.headers["content-length"];
    if (declared !== undefined && Number(declared) > maxBytes) throw errors.bodyTooLarge(maxBytes);
    await next();
  };
}

/** The body as UTF-8 text (a leading BOM dropped; invalid UTF-8 is a 400), refused once over `maxBytes`. */
export function readIncomingText(incoming: IncomingMessage, maxBytes: number): Promise<string> {
  if (incoming.readableEnded) return Promise.resolve("");
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      incoming.off("error", onGone);
      incoming.off("close", onGone);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        // The rest is left to the server, which drains (or cuts) it once the 413 has gone out.
        done();
        reject(errors.bodyTooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      try {
        resolve(decodeUtf8Strict(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
      } catch (err) {
        reject(err);
      }
    };
    const onGone = () => {
      done();
      reject(errors.clientClosed("The client closed the request while sending its body."));
    };
    incoming.on("data", onData);
    incoming.on("end", onEnd);
    incoming.on("error", onGone);
    incoming.on("close", onGone);
  });
}
