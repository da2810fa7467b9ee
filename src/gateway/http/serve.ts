import type { Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { createAdaptorServer } from "@hono/node-server";
import type { Hono } from "hono";
import type { Logger } from "../../log/logger.js";

export interface ServeOptions {
  host: string;
  port: number; // 0 picks a free port
  /** How long close() lets open responses finish before cutting their connections (default 5 s). */
  closeGraceMs?: number;
  /** Open client connections at most (MAX_CONNECTIONS, this process's share); more are closed at once. */
  maxConnections?: number;
  /** Says when the connection cap is hit (default: nowhere). */
  logger?: Logger;
}

// Idle keep-alive connections are closed after this long (Node's default, set here so it is a decision).
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
// How long a connection answered 400/408 may stay before it is destroyed, if the client never closes it.
const CLIENT_ERROR_LINGER_MS = 1_000;
// The cap's log line comes at most this often, with the count of connections closed since.
const CAP_LOG_EVERY_MS = 10_000;

export interface ServedGateway {
  url: string;
  close(): Promise<void>;
}

interface Shutdownable {
  abortInFlight?: (reason: string) => void;
  closeUpstream?: () => Promise<void>;
}

/**
 * Serves the gateway over HTTP. close() stops accepting connections, ends every stream in flight with its
 * error chunk and [DONE] (so clients see a clean end, and every request gets its ledger row), waits for the
 * responses to go out, then closes what is left.
 */
export async function serveGateway(app: Hono & Shutdownable, options: ServeOptions): Promise<ServedGateway> {
  const server = createAdaptorServer({
    fetch: app.fetch,
    hostname: options.host,
    // Slow-loris guard: a client gets 10 s to send its headers and 15 s for the whole request (streamed
    // answers are not bounded by this), checked every second.
    serverOptions: { headersTimeout: 10_000, requestTimeout: 15_000, connectionsCheckingInterval: 1_000 },
  });
  // createAdaptorServer makes an http.Server (no HTTP/2 options are passed).
  const http = server as Server;
  http.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.on("clientError", answerClientError);
  if (options.maxConnections !== undefined) capConnections(http, options.maxConnections, options.logger);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(listenError(err, options));
    server.once("error", onError);
    server.listen(options.port, options.host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | null = null;

  const close = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    app.abortInFlight?.("the gateway is shutting down");
    // A keep-alive connection turns idle when its last response ends; close those as they appear.
    const closeIdle = () => {
      if ("closeIdleConnections" in server) server.closeIdleConnections();
    };
    closeIdle();
    const sweeper = setInterval(closeIdle, 20);
    const grace = new Promise<void>((resolve) => setTimeout(resolve, options.closeGraceMs ?? 5_000).unref());
    await Promise.race([closed, grace]);
    clearInterval(sweeper);
    if ("closeAllConnections" in server) server.closeAllConnections();
    await closed;
    await app.closeUpstream?.();
  };

  return {
    url: `http://${host}:${address.port}`,
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}

/** Why the gateway cannot listen, with the fix (the raw "listen EADDRINUSE" says neither). */
function listenError(err: NodeJS.ErrnoException, options: ServeOptions): Error {
  const where = `${options.host}:${options.port}`;
  const fixes: Record<string, string> = {
    EADDRINUSE: `port ${options.port} on ${options.host} is already in use by another process (see: ss -ltnp 'sport = :${options.port}'); stop that process, or set PORT (or --port) to a free port`,
    EACCES: `this user may not listen on ${where} (ports below 1024 need privileges); set PORT (or --port) to 1024 or above`,
    EADDRNOTAVAIL: `${options.host} is not an address of this machine; set HOST to one of its addresses, 127.0.0.1 or 0.0.0.0`,
  };
  const fix = fixes[err.code ?? ""];
  return new Error(
    fix
      ? `the gateway cannot listen on ${where}: ${fix}.`
      : `the gateway cannot listen on ${where}: ${err.message}`,
    { cause: err },
  );
}

/**
 * Closes connections past `max` as soon as they open. Counted here, not with server.maxConnections: in an HTTP
 * worker (cluster) Node 20 hands a connection the worker refuses back to the primary, which offers it again at
 * once, in a loop, and no "drop" event is ever emitted.
 */
function capConnections(server: Server, max: number, logger?: Logger): void {
  let open = 0;
  let dropped = 0;
  let lastLog = -Infinity;
  server.on("connection", (socket: Socket) => {
    if (open >= max) {
      socket.destroy();
      dropped++;
      const now = Date.now();
      if (now - lastLog >= CAP_LOG_EVERY_MS) {
        lastLog = now;
        logger?.warn(
          { open, maxConnections: max, closed: dropped },
          `connection limit reached: ${open} client connections are open, the most this process takes (MAX_CONNECTIONS, shared out over GATEWAY_WORKERS); new connections are closed at once until some end. Raise MAX_CONNECTIONS (each connection is an open file), or find the clients that hold connections open`,
        );
        dropped = 0;
      }
      return;
    }
    open++;
    socket.once("close", () => {
      open--;
    });
  });
}

/**
 * Malformed HTTP (or a request that timed out) gets a JSON reason instead of Node's bare 400; the connection is
 * destroyed shortly after, since the server only half-closes it and a client that never closes its side would
 * otherwise hold it (and a file descriptor) forever.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const timedOut = err.code === "ERR_HTTP_REQUEST_TIMEOUT";
  const status = timedOut ? "408 Request Timeout" : "400 Bad Request";
  const message = timedOut
    ? "The request was not received in time (headers within 10 s, the whole request within 15 s)."
    : `Malformed HTTP request (${err.code ?? "parse error"}): check the request line, the headers and Content-Length.`;
  const body = JSON.stringify({
    error: { message, type: "BadRequestError", param: null, code: timedOut ? 408 : 400 },
  });
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  // The linger lets the answer reach the client before a reset could discard it; what it sends meanwhile is dropped.
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
}
