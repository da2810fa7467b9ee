import { createServer, type IncomingHttpHeaders } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawHttp } from "./helpers/raw-http.js";
import { type RunningGateway, startGatewayOn } from "./helpers/static-supervisor.js";

// What a client sends in headers cannot change what the engine receives: the upstream request is built from
// scratch. A tiny recording engine stands in for vLLM and keeps every request it gets.

const ENGINE_KEY = "engine-key-0123456789abcdef";
const GATEWAY_TOKEN = "gateway-token-xyz";
const ATTACK = "attacker";

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}
const seen: Seen[] = [];
const engine = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => {
    body += c;
  });
  req.on("end", () => {
    seen.push({
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body,
    });
    const parsed = JSON.parse(body || "{}") as { stream?: boolean };
    const usage = { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 };
    const chunk = (delta: object, finish: string | null, withUsage = false) =>
      `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "test-model", choices: [{ index: 0, delta, finish_reason: finish }], ...(withUsage ? { usage } : {}) })}\n\n`;
    if (parsed.stream) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(chunk({ role: "assistant", content: "ok" }, null));
      res.write(chunk({}, "stop"));
      res.end(
        `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: "test-model", choices: [], usage })}\n\ndata: [DONE]\n\n`,
      );
    } else {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id: "c1",
          object: "chat.completion",
          created: 1,
          model: "test-model",
          choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
          usage,
        }),
      );
    }
  });
});

let gateway: RunningGateway;
let enginePort = 0;
beforeAll(async () => {
  await new Promise<void>((r) => engine.listen(0, "127.0.0.1", () => r()));
  enginePort = (engine.address() as { port: number }).port;
  gateway = await startGatewayOn(
    { baseUrl: `http://127.0.0.1:${enginePort}`, apiKey: ENGINE_KEY, generation: 1 },
    { config: { authToken: GATEWAY_TOKEN } },
  );
});
afterAll(async () => {
  await gateway?.close();
  await new Promise<void>((r) => engine.close(() => r()));
});

function rawRequest(port: number, data: string): Promise<string> {
  return rawHttp(port, data, (out) => out.includes("data: [DONE]") || /\r\n\r\n\{.*\}$/s.test(out));
}

// Headers a client might use to smuggle, spoof or steer the upstream request.
const HOSTILE = [
  `Host: evil.${ATTACK}.example`,
  `X-Forwarded-For: 6.6.6.6, ${ATTACK}`,
  `X-Forwarded-Host: ${ATTACK}.example`,
  `X-Forwarded-Proto: ${ATTACK}`,
  `Forwarded: for=${ATTACK};host=${ATTACK}`,
  `X-Real-IP: ${ATTACK}`,
  `X-Request-Id: ${ATTACK}-request-id`,
  `Cookie: session=${ATTACK}`,
  `Proxy-Authorization: Basic ${ATTACK}`,
  `X-Api-Key: ${ATTACK}`,
  `Upgrade: websocket-${ATTACK}`,
  `X-Vllm-Api-Key: ${ATTACK}`,
  `X-Smuggle: a\tTransfer-Encoding: chunked ${ATTACK}`,
  `Accept: ${ATTACK}/*`,
  `Content-Encoding: ${ATTACK}`,
];

const ALLOWED_UPSTREAM_HEADERS = new Set([
  "host",
  "connection",
  "content-length",
  "content-type",
  "accept",
  "authorization",
  "x-request-id",
]);

describe("request headers cannot inject into upstream requests", () => {
  for (const [path, body] of [
    ["/llm", { messages: [{ role: "user", content: "hi" }], max_tokens: 4, stream: true }],
    ["/llm", { messages: [{ role: "user", content: "hi" }], max_tokens: 4 }],
    [
      "/v1/chat/completions",
      { model: "test-model", messages: [{ role: "user", content: "hi" }], max_tokens: 4, stream: true },
    ],
    [
      "/v1/chat/completions",
      { model: "test-model", messages: [{ role: "user", content: "hi" }], max_tokens: 4 },
    ],
  ] as const) {
    it(`${path} ${"stream" in body ? "stream" : "json"}: the engine sees only the gateway's own headers`, async () => {
      seen.length = 0;
      const payload = JSON.stringify(body);
      const res = await rawRequest(
        Number(new URL(gateway.url).port),
        `POST ${path} HTTP/1.1\r\n${HOSTILE.join("\r\n")}\r\nAuthorization: Bearer ${GATEWAY_TOKEN}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
      );
      expect(res, res.slice(0, 500)).toMatch(/^HTTP\/1\.1 200 /);
      expect(seen).toHaveLength(1);
      const upstream = seen[0] as Seen;
      expect(upstream.method).toBe("POST");
      expect(upstream.url).toBe("/v1/chat/completions");
      const names = Object.keys(upstream.headers);
      expect(
        names.filter((n) => !ALLOWED_UPSTREAM_HEADERS.has(n)),
        "headers the gateway passed on",
      ).toEqual([]);
      expect(upstream.headers.authorization).toBe(`Bearer ${ENGINE_KEY}`);
      expect(upstream.headers.host).toBe(`127.0.0.1:${enginePort}`);
      expect(upstream.headers["content-type"]).toBe("application/json");
      expect(Number(upstream.headers["content-length"])).toBe(Buffer.byteLength(upstream.body));
      expect(upstream.rawHeaders.join("\n")).not.toContain(ATTACK);
      expect(upstream.rawHeaders.join("\n")).not.toContain(GATEWAY_TOKEN);
      const responseId = /x-request-id: ([0-9a-f]+)/i.exec(res)?.[1];
      expect(upstream.headers["x-request-id"]).toBe(responseId);
      expect(JSON.parse(upstream.body)).toMatchObject({
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 4,
      });
    });
  }

  it("header values with CR/LF never reach the engine (the request is refused first)", async () => {
    seen.length = 0;
    const payload = JSON.stringify({ messages: [{ role: "user", content: "hi" }], max_tokens: 4 });
    const port = Number(new URL(gateway.url).port);
    for (const injected of [
      `X-A: 1\rX-Injected: ${ATTACK}`,
      `X-A: 1\nX-Injected: ${ATTACK}`,
      `X-A: 1\r\n X-Injected: ${ATTACK}`, // obsolete line folding
      `Transfer-Encoding: chunked\r\nTransfer-Encoding: identity`,
    ]) {
      const res = await rawRequest(
        port,
        `POST /llm HTTP/1.1\r\nHost: x\r\n${injected}\r\nAuthorization: Bearer ${GATEWAY_TOKEN}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
      );
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(res)?.[1] ?? 0);
      // Either refused by the HTTP parser, or accepted with the bytes kept inside one header value.
      if (status === 200) expect(seen.at(-1)?.rawHeaders.join("\n")).not.toContain(ATTACK);
      else expect(status, `${JSON.stringify(injected)} → ${res.slice(0, 100)}`).toBeGreaterThanOrEqual(400);
    }
    expect(seen.flatMap((s) => s.rawHeaders).join("\n")).not.toContain(ATTACK);
  });
});
