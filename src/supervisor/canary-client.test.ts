import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { httpCanaryClient } from "./canary-client.js";

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
const servers: Array<{ close(): void }> = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function engine(handler: Handler) {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => handler(req, body, res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push({ close: () => server.close() });
  const port = (server.address() as AddressInfo).port;
  return { baseUrl: `http://127.0.0.1:${port}`, apiKey: "k", generation: 1 };
}

describe("httpCanaryClient", () => {
  it("asks the engine itself for one token, with its key, marked as a canary", async () => {
    let seen: { url?: string; auth?: string; id?: string; body?: unknown } = {};
    const endpoint = await engine((req, body, res) => {
      seen = {
        url: req.url,
        auth: req.headers.authorization,
        id: String(req.headers["x-request-id"]),
        body: JSON.parse(body),
      };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ choices: [{ index: 0, text: "!" }], usage: { completion_tokens: 1 } }));
    });
    expect(await httpCanaryClient.generate(endpoint, "m", new AbortController().signal)).toEqual({
      kind: "token",
    });
    expect(seen).toMatchObject({
      url: "/v1/completions",
      auth: "Bearer k",
      body: { model: "m", max_tokens: 1 },
    });
    expect(seen.id).toMatch(/^llm-runner-canary-\d+$/);
  });

  it("reports an error answer, or an answer without a choice, as an error", async () => {
    const failing = await engine((_req, _body, res) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end('{"error":{"message":"EngineCore died"}}');
    });
    expect(await httpCanaryClient.generate(failing, "m", new AbortController().signal)).toMatchObject({
      kind: "error",
      detail: expect.stringContaining("HTTP 500"),
    });
    const empty = await engine((_req, _body, res) => res.end('{"choices":[]}'));
    expect(await httpCanaryClient.generate(empty, "m", new AbortController().signal)).toMatchObject({
      kind: "error",
    });
  });

  it("gives up when aborted (the probe's timeout), never rejecting", async () => {
    const silent = await engine(() => {}); // never answers
    const controller = new AbortController();
    const answer = httpCanaryClient.generate(silent, "m", controller.signal);
    setTimeout(() => controller.abort(new Error("canary timeout")), 50);
    expect(await answer).toMatchObject({ kind: "error" });
  });
});
