import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { UndiciUpstreamClient, UpstreamConnectError } from "./upstream-client.js";

let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
});

/** A loopback engine that records what it was sent and answers with `reply`. */
async function engine(reply: (res: import("node:http").ServerResponse) => void) {
  const seen: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      seen.push({ headers: req.headers, body });
      reply(res);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return { seen, baseUrl: `http://127.0.0.1:${port}` };
}

describe("UndiciUpstreamClient", () => {
  it("sends the body with the engine's key and our own headers only, and reads the answer", async () => {
    const e = await engine((res) =>
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":1}'),
    );
    const client = new UndiciUpstreamClient({ connections: 2 });
    const res = await client.send({
      endpoint: { baseUrl: e.baseUrl, apiKey: "k1", generation: 1 },
      method: "POST",
      path: "/v1/chat/completions",
      body: '{"a":1}',
      requestId: "r1",
      signal: new AbortController().signal,
    });
    expect([res.status, res.contentType, await res.text()]).toEqual([200, "application/json", '{"ok":1}']);
    expect(e.seen[0]?.body).toBe('{"a":1}');
    expect(e.seen[0]?.headers).toMatchObject({
      authorization: "Bearer k1",
      "content-type": "application/json",
      "x-request-id": "r1",
    });
    await client.close();
  });

  it("an engine that cannot be reached is an UpstreamConnectError; an abort we asked for is not", async () => {
    const client = new UndiciUpstreamClient({ connections: 1 });
    const closed = await engine((res) => res.end());
    await new Promise((r) => servers.pop()?.close(r));
    const request = (signal: AbortSignal) =>
      client.send({
        endpoint: { baseUrl: closed.baseUrl, apiKey: "k", generation: 1 },
        method: "GET",
        path: "/health",
        signal,
      });
    await expect(request(new AbortController().signal)).rejects.toBeInstanceOf(UpstreamConnectError);
    const aborted = request(AbortSignal.abort(new Error("client gone")));
    await expect(aborted).rejects.not.toBeInstanceOf(UpstreamConnectError);
    await client.close();
  });
});
