// /llm driven the way a Livepeer orchestrator reads it (test/helpers/livepeer-rules.ts, from go-livepeer's own
// client): every refusal must be an *error* to it — a JSON answer other than 200 is only ever 400, 401 or 500
// with {"detail":{"msg"}} (anything else is a paid empty success), a refused stream is non-200, and a stream
// that fails after its first byte ends with finish_reason "error". Real gateways on real sockets, in front of
// the real simulator (and one scripted engine for a huge single chunk).
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SupervisorError } from "../src/supervisor/types.js";
import {
  GO_SCANNER_MAX,
  readNonStreaming,
  readStreaming,
  semverAtLeast,
  streamFailed,
} from "./helpers/livepeer-rules.js";
import { type SimEngine, startSimEngine } from "./helpers/sim-engine.js";
import { type RunningGateway, startGatewayOn } from "./helpers/static-supervisor.js";

const TOKEN = "orchestrator-token";
const auth = { authorization: `Bearer ${TOKEN}` };
const hello = [{ role: "user", content: "hello there" }];

let slowSim: SimEngine; // holds a slot long enough to fill the queue
let fastSim: SimEngine; // a small context, generated at once: max_tokens past the context
let errorSim: SimEngine; // answers every request with a 500
let slow: RunningGateway;
let fast: RunningGateway;
let failing: RunningGateway;

beforeAll(async () => {
  [slowSim, fastSim, errorSim] = await Promise.all([
    startSimEngine({ maxNumSeqs: 4, args: ["--sim-itl-ms", "20"] }),
    startSimEngine({ maxNumSeqs: 4, args: ["--max-model-len", "512"] }),
    startSimEngine({ maxNumSeqs: 4, args: ["--sim-error-rate", "1"] }),
  ]);
  const config = { authToken: TOKEN, maxNumSeqs: 1, queueSize: 0, maxBodyBytes: 4096 };
  slow = await startGatewayOn(slowSim.endpoint, { config });
  fast = await startGatewayOn(fastSim.endpoint, { config: { ...config, maxModelLen: 512 } });
  failing = await startGatewayOn(errorSim.endpoint, { config });
}, 60_000);
afterAll(async () => {
  for (const gw of [slow, fast, failing]) await gw?.close();
  for (const sim of [slowSim, fastSim, errorSim]) await sim?.stop();
});

interface Sent {
  status: number;
  contentType: string | null;
  retryAfter: string | null;
  text: string;
}

async function send(url: string, body: string, headers: Record<string, string> = auth): Promise<Sent> {
  const res = await fetch(`${url}/llm`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
    signal: AbortSignal.timeout(60_000),
  });
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    retryAfter: res.headers.get("retry-after"),
    text: await res.text(),
  };
}

const body = (extra: Record<string, unknown>, stream: boolean) =>
  JSON.stringify({ messages: hello, max_tokens: 8, ...extra, stream });

/** The same request as JSON and as a stream: both must be errors to the orchestrator. */
async function expectRefused(
  url: string,
  make: (stream: boolean) => string,
  status: 400 | 401 | 500,
  headers: Record<string, string> = auth,
): Promise<{ json: Sent; msg: string }> {
  const json = await send(url, make(false), headers);
  const read = readNonStreaming(json.status, json.contentType, json.text);
  expect(read, json.text).toEqual({ kind: "error", status, msg: expect.any(String) });
  const msg = read.kind === "error" ? read.msg : "";
  expect(msg.length).toBeGreaterThan(10);
  const streamed = await send(url, make(true), headers);
  expect(readStreaming(streamed.status, streamed.text)).toEqual({ kind: "error", status });
  return { json, msg };
}

describe("the client's faults are 400 (JSON and stream), never a paid empty answer", () => {
  it("invalid JSON, bad fields, an oversize body, a model not served", async () => {
    const bad = await send(slow.url, "{nope");
    expect(readNonStreaming(bad.status, bad.contentType, bad.text)).toMatchObject({
      kind: "error",
      status: 400,
    });
    for (const extra of [
      { temperature: 9 },
      { messages: [{ role: "tool", content: "x" }] },
      { top_k: 0 },
      { max_tokens: 0 },
      { messages: [] },
    ]) {
      const { msg } = await expectRefused(slow.url, (stream) => body(extra, stream), 400);
      expect(msg).toMatch(/^Invalid \/llm request: /);
    }
    const big = (stream: boolean) =>
      body({ messages: [{ role: "user", content: "y".repeat(5000) }] }, stream);
    expect((await expectRefused(slow.url, big, 400)).msg).toContain("MAX_BODY_BYTES");
    const other = (stream: boolean) => body({ model: "gpt-4" }, stream);
    expect((await expectRefused(slow.url, other, 400)).msg).toContain("is not served here");
    // A prompt that alone fills the context cannot be served up to its end.
    const huge = (stream: boolean) =>
      body({ messages: [{ role: "user", content: "word ".repeat(600) }] }, stream);
    const longer = await startGatewayOn(fastSim.endpoint, { config: { maxModelLen: 512 } });
    try {
      expect((await expectRefused(longer.url, huge, 400, {})).msg).toMatch(/^The prompt is \d+ tokens/);
    } finally {
      await longer.close();
    }
  });

  it("no token and a wrong token are 401", async () => {
    await expectRefused(slow.url, (stream) => body({}, stream), 401, {});
    await expectRefused(slow.url, (stream) => body({}, stream), 401, { authorization: "Bearer nope" });
  });
});

describe("the runner's refusals and failures are 500 with the reason (Retry-After kept)", () => {
  it("loading, restarting after a crash, failed, draining", async () => {
    const sup = slow.supervisor;
    const crash: SupervisorError = {
      reason: "crash",
      message: "engine exited with code 1",
      logTail: [],
      at: new Date().toISOString(),
    };
    try {
      for (const [state, words, retry] of [
        ["loading", "The model is loading", "5"],
        ["restarting", "restarting after a failure", "5"],
        ["failed", "The engine failed", "60"],
        ["draining", "draining", "30"],
      ] as const) {
        sup.setState(state, state === "loading" || state === "draining" ? undefined : crash);
        const { json, msg } = await expectRefused(slow.url, (stream) => body({}, stream), 500);
        expect(msg).toContain(words);
        expect(json.retryAfter).toBe(retry);
      }
    } finally {
      sup.setState("ready");
    }
  });

  it("queue full", async () => {
    const holder = httpRequest(`${slow.url}/llm`, { method: "POST", headers: { ...auth } });
    holder.on("error", () => {});
    const opened = new Promise<void>((resolve) =>
      holder.on("response", (res) => res.once("data", () => resolve())),
    );
    // The simulator echoes the prompt: 600 words at 20 ms a token hold the only slot for seconds.
    holder.end(body({ max_tokens: 2000, messages: [{ role: "user", content: "word ".repeat(600) }] }, true));
    try {
      await opened;
      const { json, msg } = await expectRefused(slow.url, (stream) => body({}, stream), 500);
      expect(msg).toContain("at capacity: 1 requests admitted");
      expect(json.retryAfter).toBe("1");
    } finally {
      holder.destroy();
    }
  });

  it("the engine answers 5xx", async () => {
    const { msg } = await expectRefused(failing.url, (stream) => body({}, stream), 500);
    expect(msg).toContain("Simulated engine error");
  });
});

describe("what the orchestrator charges for is served", () => {
  it("max_tokens 100000 is served up to the context end with finish_reason length; the quote stays max_tokens", async () => {
    // The simulator echoes the prompt: 300 words do not fit in the room a 512-token context leaves them.
    const long = { max_tokens: 100_000, messages: [{ role: "user", content: "word ".repeat(300) }] };
    const json = await fetch(`${fast.url}/llm`, {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      body: body(long, false),
    });
    const read = readNonStreaming(json.status, json.headers.get("content-type"), await json.text());
    if (read.kind !== "answer") throw new Error(`not an answer: ${JSON.stringify(read)}`);
    const { usage, choices } = read.body;
    expect(choices[0]?.finish_reason).toBe("length");
    expect(usage.prompt_tokens).toBeGreaterThan(0);
    expect(usage.prompt_tokens + usage.completion_tokens).toBe(512);
    expect(json.headers.get("x-llm-price-quote")).toBe("0.008"); // 100000 × 0.08 / 1e6
    expect(Number(json.headers.get("x-llm-price-usage"))).toBeCloseTo(
      (usage.completion_tokens * 0.08) / 1e6,
      15,
    );

    const streamed = await send(fast.url, body(long, true));
    const s = readStreaming(streamed.status, streamed.text);
    if (s.kind !== "stream") throw new Error(`not a stream: ${streamed.status}`);
    expect(s.finishReason).toBe("length");
    expect(s.broken).toBeNull();
    expect(s.chunks.at(-1)?.usage).toEqual(usage);
    const rows = fast.ledger.rows().slice(-2);
    expect(rows.map((r) => [r.status, r.maxTokens, r.completionTokens])).toEqual([
      ["ok", 100_000, usage.completion_tokens],
      ["ok", 100_000, usage.completion_tokens],
    ]);
  });

  it("/version is a semver that -aiMinRunnerVersion 0.14.1 accepts", async () => {
    const v = (await (await fetch(`${slow.url}/version`)).json()) as { version: string; pipeline: string };
    expect(v.pipeline).toBe("llm");
    expect(semverAtLeast(v.version, "0.14.1")).toBe(true);
    expect(semverAtLeast(v.version, "0.15.0")).toBe(false);
  });

  it("/ready flips with the engine's state and the free slots; /health stays 200", async () => {
    const ready = async () => (await fetch(`${slow.url}/ready`)).status;
    expect(await ready()).toBe(200);
    slow.supervisor.setState("loading");
    try {
      expect(await ready()).toBe(503);
      expect((await fetch(`${slow.url}/health`)).status).toBe(200);
    } finally {
      slow.supervisor.setState("ready");
    }
    expect(await ready()).toBe(200);
  });
});

describe("a huge single chunk from the engine", () => {
  let engine: Server;
  let gw: RunningGateway;
  const HUGE = "token".repeat(40_000); // 200 000 bytes in one delta

  beforeAll(async () => {
    // A scripted engine: one chat.completion.chunk holding the whole answer, then vLLM's usage chunk.
    engine = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        const chunk = (choices: unknown[], usage: unknown) =>
          `data: ${JSON.stringify({ id: "e", object: "chat.completion.chunk", created: 1, model: "test-model", choices, usage })}\n\n`;
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(chunk([{ index: 0, delta: { content: HUGE }, finish_reason: null }], null));
        res.write(chunk([{ index: 0, delta: { content: "" }, finish_reason: "stop" }], null));
        res.write(chunk([], { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 }));
        res.end("data: [DONE]\n\n");
      });
    });
    await new Promise<void>((resolve) => engine.listen(0, "127.0.0.1", resolve));
    const port = (engine.address() as AddressInfo).port;
    gw = await startGatewayOn({ baseUrl: `http://127.0.0.1:${port}`, apiKey: "k", generation: 1 });
  });
  afterAll(async () => {
    await gw?.close();
    await new Promise((resolve) => engine?.close(resolve));
  });

  it("reaches the orchestrator whole: every SSE line fits Go's 64 KiB scanner", async () => {
    const streamed = await send(gw.url, body({}, true), {});
    for (const line of streamed.text.split("\n"))
      expect(Buffer.byteLength(line) + 1).toBeLessThanOrEqual(GO_SCANNER_MAX);
    const s = readStreaming(streamed.status, streamed.text);
    if (s.kind !== "stream") throw new Error(`not a stream: ${streamed.status}`);
    expect(s.broken).toBeNull();
    expect(s.finishReason).toBe("stop");
    expect(s.text).toBe(HUGE);
    expect(streamFailed(s)).toBe(false);
    const json = await send(gw.url, body({}, false), {});
    const read = readNonStreaming(json.status, json.contentType, json.text);
    expect(read.kind === "answer" && read.body.choices[0]?.message.content === HUGE).toBe(true);
  });
});
