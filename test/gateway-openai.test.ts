// OpenAI compatibility of /v1/* through the official `openai` npm client, against the real simulator engine.
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SimEngine, startSimEngine } from "./helpers/sim-engine.js";
import { type RunningGateway, startGatewayOn } from "./helpers/static-supervisor.js";

const MODEL = "test-model";
const TOKEN = "operator-token";
let sim: SimEngine;
let gw: RunningGateway;
let client: OpenAI;

beforeAll(async () => {
  sim = await startSimEngine({ modelId: MODEL, args: ["--sim-itl-ms", "1"] });
  gw = await startGatewayOn(sim.endpoint, { config: { authToken: TOKEN } });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: TOKEN, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.close();
  await sim?.stop();
});

const messages = [{ role: "user" as const, content: "hello there friend" }];

describe("the openai client against /v1", () => {
  it("lists the served model", async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL]);
  });

  it("creates a completion, with the price headers on the raw response", async () => {
    const { data, response } = await client.chat.completions
      .create({ model: MODEL, messages, max_tokens: 50 })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe("hello there friend");
    expect(data.choices[0]?.finish_reason).toBe("stop");
    expect(data.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 3 });
    expect(response.headers.get("x-llm-price-quote")).toBe("0.000004");
    expect(response.headers.get("x-llm-price-usage")).toBe("0.00000024");
    expect(response.headers.get("x-llm-currency")).toBe("USD");
  });

  it("streams chunks; the usage chunk appears only when asked for", async () => {
    const plain = await client.chat.completions.create({ model: MODEL, messages, stream: true });
    let text = "";
    let last: string | null = null;
    let sawUsage = false;
    for await (const chunk of plain) {
      text += chunk.choices[0]?.delta.content ?? "";
      last = chunk.choices[0]?.finish_reason ?? last;
      if (chunk.usage) sawUsage = true;
    }
    expect(text).toBe("hello there friend");
    expect(last).toBe("stop");
    expect(sawUsage).toBe(false);

    const withUsage = await client.chat.completions.create({
      model: MODEL,
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const usages = [];
    for await (const chunk of withUsage) if (chunk.usage) usages.push(chunk.usage);
    expect(usages).toEqual([{ prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 }]);
  });

  it("raises APIErrors with the right status for auth, bad requests, engine refusals and not-ready", async () => {
    const intruder = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "wrong", maxRetries: 0 });
    const denied = await intruder.chat.completions.create({ model: MODEL, messages }).catch((e) => e);
    expect(denied).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(denied.status).toBe(401);

    const bad = await client.chat.completions.create({ model: MODEL, messages, n: 2 }).catch((e) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect(bad.param).toBe("n");

    const tooLong = await client.chat.completions
      .create({ model: MODEL, messages, max_tokens: 100_000 })
      .catch((e) => e);
    expect(tooLong).toBeInstanceOf(OpenAI.BadRequestError);
    expect(tooLong.message).toContain("maximum context length is 8192 tokens");

    gw.supervisor.setState("loading");
    try {
      const loading = await client.chat.completions.create({ model: MODEL, messages }).catch((e) => e);
      expect(loading).toBeInstanceOf(OpenAI.APIError);
      expect(loading.status).toBe(503);
      expect(loading.headers.get("retry-after")).toBe("5");
    } finally {
      gw.supervisor.setState("ready");
    }
  });
});

describe("the openai client when the engine dies mid-stream", () => {
  it("gets an APIError from the stream's error event", async () => {
    await using crashing = await startSimEngine({
      modelId: MODEL,
      args: ["--sim-itl-ms", "20", "--sim-crash-after", "1"],
    });
    await using gateway = await startGatewayOn(crashing.endpoint, { config: { authToken: TOKEN } });
    const c = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const stream = await c.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "word ".repeat(200) }],
      stream: true,
    });
    const failure = await (async () => {
      for await (const _ of stream) {
      }
    })().catch((e) => e);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect(String(failure.message)).toMatch(/engine/);
    expect(gateway.ledger.rows()).toMatchObject([{ status: "engine_error", route: "/v1/chat/completions" }]);
  });
});
