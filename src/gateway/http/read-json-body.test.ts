import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GatewayError } from "./gateway-error.js";
import { readIncomingText } from "./read-json-body.js";

const LIMIT = 64;
let url = "";
const server = createServer((req, res) => {
  readIncomingText(req, LIMIT).then(
    (text) => res.end(JSON.stringify({ text })),
    (err: unknown) => {
      res.statusCode = err instanceof GatewayError ? err.status : 500;
      res.end(JSON.stringify({ code: err instanceof GatewayError ? err.code : String(err) }));
    },
  );
});
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** POSTs `parts` one write at a time (chunked unless a content-length is given). */
function post(
  parts: Buffer[],
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/`, { method: "POST", headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    for (const p of parts) req.write(p);
    req.end();
  });
}

describe("readIncomingText", () => {
  it("joins the body however it is split, multi-byte characters and a BOM included", async () => {
    const bytes = Buffer.from('\ufeff{"t":"héllo ✓ 🙂"}', "utf8");
    const parts = [bytes.subarray(0, 4), bytes.subarray(4, 11), bytes.subarray(11)];
    const res = await post(parts);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ text: '{"t":"héllo ✓ 🙂"}' });
  });

  it("answers 413 once a chunked body (no Content-Length) passes the limit", async () => {
    const res = await post([Buffer.alloc(40, 97), Buffer.alloc(40, 97)]);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toEqual({ code: "body_too_large" });
  });

  it("takes a body of exactly the limit, with or without Content-Length", async () => {
    const body = Buffer.alloc(LIMIT, 98);
    expect((await post([body])).status).toBe(200);
    expect((await post([body], { "content-length": String(LIMIT) })).status).toBe(200);
  });
});
