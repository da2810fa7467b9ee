// The floor: the least a Node proxy in front of the engine must do — read the request body, send it upstream on
// a keep-alive undici Pool with the engine's key, relay status, content type and body bytes as they come, and
// abort upstream when the client goes away. No auth, validation, pricing, ledger or metrics. What the gateway
// costs beyond this is what its own features cost.
//
//   node bench/lib/floor-proxy.mjs --upstream http://127.0.0.1:8100 --port 0 [--connections 1100]
//   (the engine key comes from the environment: FLOOR_UPSTREAM_KEY)
//
// Prints one JSON line {"event":"ready","port":N} on stdout once it listens (127.0.0.1 only); exits on SIGTERM.
import http from "node:http";
import { parseArgs } from "node:util";
import { Pool } from "undici";

/** Starts the floor proxy; resolves once it listens. */
export async function startFloorProxy({ upstream, key, port = 0, connections = 1100 }) {
  const pool = new Pool(upstream, {
    connections,
    pipelining: 1,
    headersTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: 60_000,
  });
  const server = http.createServer((req, res) => {
    const parts = [];
    req.on("data", (part) => parts.push(part));
    req.on("end", () => {
      const abort = new AbortController();
      res.on("close", () => {
        if (!res.writableFinished) abort.abort();
      });
      pool
        .request({
          method: req.method,
          path: req.url,
          headers: {
            authorization: `Bearer ${key}`,
            "content-type": req.headers["content-type"] ?? "application/json",
          },
          body: req.method === "GET" || req.method === "HEAD" ? null : Buffer.concat(parts),
          signal: abort.signal,
        })
        .then(
          ({ statusCode, headers, body }) => {
            const type = headers["content-type"];
            res.writeHead(statusCode, type ? { "content-type": type } : {});
            body.on("data", (chunk) => res.write(chunk));
            body.on("end", () => res.end());
            body.on("error", () => res.destroy());
          },
          (err) => {
            if (res.headersSent) res.destroy();
            else res.writeHead(502, { "content-type": "text/plain" }).end(`floor proxy: ${err.message}`);
          },
        );
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return {
    port: server.address().port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
      await pool.destroy();
    },
  };
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const { values } = parseArgs({
    options: {
      upstream: { type: "string" },
      port: { type: "string", default: "0" },
      connections: { type: "string", default: "1100" },
    },
  });
  const key = process.env.FLOOR_UPSTREAM_KEY;
  if (!values.upstream || !key) {
    process.stderr.write(
      "usage: FLOOR_UPSTREAM_KEY=<engine key> node floor-proxy.mjs --upstream URL [--port N]\n",
    );
    process.exit(2);
  }
  const floor = await startFloorProxy({
    upstream: values.upstream,
    key,
    port: Number(values.port),
    connections: Number(values.connections),
  });
  process.stdout.write(`${JSON.stringify({ event: "ready", port: floor.port })}\n`);
  process.once("SIGTERM", () => {
    floor.close().then(() => process.exit(0));
  });
}
