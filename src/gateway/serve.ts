import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import type { Hono } from "hono";

export interface ServeOptions {
  host: string;
  port: number; // 0 picks a free port
  /** How long close() lets open responses finish before cutting their connections (default 5 s). */
  closeGraceMs?: number;
}

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
  const server = createAdaptorServer({ fetch: app.fetch, hostname: options.host });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
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
