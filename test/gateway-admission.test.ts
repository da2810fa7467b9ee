// Admission and failure paths over real sockets against the real simulator: client disconnects free the
// engine's slot at once, the queue is bounded, auth and limits answer in the AI-runner shape, a dying engine
// ends the stream cleanly, and closing the server ends open streams with [DONE].
import { request as httpRequest, type IncomingMessage } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SimEngine, startSimEngine } from "./helpers/sim-engine.js";
import { type RunningGateway, startGatewayOn } from "./helpers/static-supervisor.js";

/** A JSON body, for assertions to read. */
// biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary JSON shapes
async function json(res: Response): Promise<any> {
  return res.json();
}

const TOKEN = "s3cret-token";
const auth = { authorization: `Bearer ${TOKEN}` };
const longMessage = (words: number) => [{ role: "user", content: "word ".repeat(words).trim() }];

/** Opens a streaming /llm request and resolves once the first SSE bytes arrived. */
function openStream(
  url: string,
  body: unknown,
): Promise<{ res: IncomingMessage; first: string; destroy(): void }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/llm`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      res.once("data", (d: Buffer) => resolve({ res, first: d.toString(), destroy: () => req.destroy() }));
    });
    req.end(JSON.stringify(body));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 2_000): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - start;
}

let sim: SimEngine;
let gw: RunningGateway;

beforeAll(async () => {
  sim = await startSimEngine({ maxNumSeqs: 2, args: ["--sim-itl-ms", "20"] });
  gw = await startGatewayOn(sim.endpoint, {
    config: { authToken: TOKEN, maxNumSeqs: 2, queueSize: 1, maxBodyBytes: 4096 },
  });
});
afterAll(async () => {
  await gw?.close();
  await sim?.stop();
});

describe("client disconnect", () => {
  it("a streaming client that goes away frees the engine's slot at once", async () => {
    const stream = await openStream(gw.url, { messages: longMessage(500), max_tokens: 500, stream: true });
    expect(stream.first).toMatch(/^data: /);
    await waitFor("the engine to run the request", async () => (await sim.running()) === 1);
    stream.destroy();
    const ms = await waitFor(
      "vllm:num_requests_running to drop to 0",
      async () => (await sim.running()) === 0,
      500,
    );
    expect(ms).toBeLessThan(500);
    await waitFor("the ledger row", async () => gw.ledger.rows().some((r) => r.status === "client_abort"));
    expect(gw.supervisor.inFlight).toBe(0);
  });

  it("so does a non-streaming client", async () => {
    const client = new AbortController();
    const pending = fetch(`${gw.url}/llm`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify({ messages: longMessage(500), max_tokens: 500 }),
      signal: client.signal,
    }).catch((e) => e);
    await waitFor("the engine to run the request", async () => (await sim.running()) === 1);
    client.abort();
    await pending;
    await waitFor("vllm:num_requests_running to drop to 0", async () => (await sim.running()) === 0, 500);
    expect(gw.supervisor.inFlight).toBe(0);
  });
});

describe("admission", () => {
  it("answers 500 on /llm (go-livepeer's error status) beyond MAX_NUM_SEQS + QUEUE_SIZE, and admits again once a slot frees", async () => {
    // Two run at the engine, one waits in its queue: all three are admitted.
    const open = [1, 2, 3].map(() => {
      const req = httpRequest(`${gw.url}/llm`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth },
      });
      req.on("error", () => {});
      req.end(JSON.stringify({ messages: longMessage(300), max_tokens: 300, stream: true }));
      return req;
    });
    try {
      await waitFor("three requests admitted", async () => gw.supervisor.inFlight === 3);
      const res = await fetch(`${gw.url}/llm`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth },
        body: JSON.stringify({ messages: longMessage(2) }),
      });
      expect(res.status).toBe(500);
      expect(res.headers.get("retry-after")).toBe("1");
      expect((await json(res)).detail.msg).toMatch(/at capacity: 3 requests admitted/);
    } finally {
      for (const req of open) req.destroy();
    }
    await waitFor("the slots to free", async () => gw.supervisor.inFlight === 0);
    const again = await fetch(`${gw.url}/llm`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify({ messages: longMessage(2) }),
    });
    expect(again.status).toBe(200);
  });

  it("answers 401 with WWW-Authenticate without a token, 400 over MAX_BODY_BYTES, 500 while not ready", async () => {
    const anon = await fetch(`${gw.url}/llm`, { method: "POST", body: "{}" });
    expect(anon.status).toBe(401);
    expect(anon.headers.get("www-authenticate")).toBe("Bearer");
    const big = await fetch(`${gw.url}/llm`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify({ messages: longMessage(2000) }),
    });
    expect(big.status).toBe(400);
    expect((await json(big)).detail.msg).toContain("MAX_BODY_BYTES");
    gw.supervisor.setState("restarting", {
      reason: "crash",
      message: "engine exited with code 1",
      logTail: [],
      at: new Date().toISOString(),
    });
    try {
      const res = await fetch(`${gw.url}/llm`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth },
        body: JSON.stringify({ messages: longMessage(2) }),
      });
      expect(res.status).toBe(500);
      expect(res.headers.get("retry-after")).toBe("5");
      expect((await json(res)).detail.msg).toBe(
        "The engine is restarting after a failure (LOADING): crash: engine exited with code 1; retry shortly.",
      );
      expect(await json(await fetch(`${gw.url}/health`))).toEqual({ status: "LOADING" });
    } finally {
      gw.supervisor.setState("ready");
    }
  });
});

describe("endings", () => {
  it("an engine that dies mid-stream ends /llm with a finish_reason 'error' chunk and [DONE]", async () => {
    await using crashing = await startSimEngine({ args: ["--sim-itl-ms", "20", "--sim-crash-after", "1"] });
    await using gateway = await startGatewayOn(crashing.endpoint);
    const res = await fetch(`${gateway.url}/llm`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: longMessage(200), max_tokens: 200, stream: true }),
    });
    const frames = (await res.text()).split("\n\n").filter(Boolean);
    expect(frames.at(-1)).toBe("data: [DONE]");
    const last = JSON.parse((frames.at(-2) as string).slice(6));
    expect(last.choices).toEqual([
      { index: 0, delta: { role: "assistant", content: "" }, finish_reason: "error" },
    ]);
    expect(last.error.message).toMatch(/engine/);
    expect(gateway.ledger.rows()).toMatchObject([{ status: "engine_error" }]);
  });

  it("closing the server ends open streams with their error chunk and [DONE], and frees the engine", async () => {
    const gateway = await startGatewayOn(sim.endpoint);
    const stream = await openStream(gateway.url, {
      messages: longMessage(500),
      max_tokens: 500,
      stream: true,
    });
    let rest = stream.first;
    const ended = new Promise<void>((resolve) => {
      stream.res.on("data", (d: Buffer) => {
        rest += d.toString();
      });
      stream.res.on("end", resolve);
    });
    const started = performance.now();
    await gateway.close();
    await ended;
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(
      rest.endsWith(
        '"error":{"message":"the runner is shutting down (the gateway is shutting down)"}}\n\ndata: [DONE]\n\n',
      ),
    ).toBe(true);
    await waitFor("the engine slot to free", async () => (await sim.running()) === 0, 500);
  });
});
