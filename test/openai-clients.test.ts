// The OpenAI routes as people call them: the official `openai` client and the Vercel AI SDK
// (`ai` + `@ai-sdk/openai-compatible`) against the simulator engine — /v1/completions, /v1/responses, CORS,
// and long non-streaming generations under a short ENGINE_HANG_TIMEOUT.
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { generateText, streamText } from "ai";
import OpenAI from "openai";
import { request } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt } from "./helpers/cli.js";
import { startRunner, stopAllRunners, TOKEN, words } from "./helpers/load.js";
import { type SimEngine, startSimEngine } from "./helpers/sim-engine.js";
import { type RunningGateway, startGatewayOn } from "./helpers/static-supervisor.js";

const MODEL = "test-model";
const GW_TOKEN = "operator-token";

describe("completions and responses through the clients", () => {
  let sim: SimEngine;
  let gw: RunningGateway;
  let client: OpenAI;

  beforeAll(async () => {
    sim = await startSimEngine({ modelId: MODEL, args: ["--sim-itl-ms", "1"] });
    gw = await startGatewayOn(sim.endpoint, { config: { authToken: GW_TOKEN } });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: GW_TOKEN, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await sim?.stop();
  });

  it("openai completions.create: JSON with usage and price headers, and a stream with its usage chunk", async () => {
    const { data, response } = await client.completions
      .create({ model: MODEL, prompt: "one two three four", max_tokens: 50 })
      .withResponse();
    expect(data.object).toBe("text_completion");
    expect(data.choices[0]?.text).toBe("one two three four");
    expect(data.choices[0]?.finish_reason).toBe("stop");
    expect(data.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 4, total_tokens: 8 });
    expect(response.headers.get("x-llm-price-quote")).toBe("0.000004");
    expect(response.headers.get("x-llm-price-usage")).toBe("0.00000032");

    const { data: stream, response: streamed } = await client.completions
      .create({
        model: MODEL,
        prompt: "a b c",
        max_tokens: 2,
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    expect(streamed.headers.get("x-llm-price-quote")).toBe("0.00000016");
    let text = "";
    const usages: unknown[] = [];
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? "";
      if (chunk.usage) usages.push(chunk.usage);
    }
    expect(text).toBe("a b");
    expect(usages).toEqual([{ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }]);
  });

  it("openai responses.create: JSON with usage and price headers, and the event stream to response.completed", async () => {
    const { data, response } = await client.responses
      .create({ model: MODEL, input: "hello responses api", max_output_tokens: 40 })
      .withResponse();
    expect(data.status).toBe("completed");
    expect(data.output_text).toBe("hello responses api");
    expect(data.usage).toMatchObject({ output_tokens: 3 });
    expect(response.headers.get("x-llm-price-quote")).toBe("0.0000032");
    expect(response.headers.get("x-llm-price-usage")).toBe("0.00000024");

    const stream = await client.responses.create({
      model: MODEL,
      input: "streamed words here",
      stream: true,
    });
    let deltas = "";
    let completed: OpenAI.Responses.Response | null = null;
    for await (const event of stream) {
      if (event.type === "response.output_text.delta") deltas += event.delta;
      if (event.type === "response.completed") completed = event.response;
    }
    expect(deltas).toBe("streamed words here");
    expect(completed?.usage).toMatchObject({ output_tokens: 3 });
    const rows = gw.ledger.rows().filter((r) => r.route === "/v1/responses");
    expect(rows.map((r) => [r.stream, r.status, r.completionTokens])).toEqual([
      [false, "ok", 3],
      [true, "ok", 3],
    ]);
  });

  it("the AI SDK's OpenAI-compatible provider: generateText and streamText on chat and completions", async () => {
    const provider = createOpenAICompatible({
      name: "llm-runner",
      baseURL: `${gw.url}/v1`,
      apiKey: GW_TOKEN,
      includeUsage: true,
    });
    const chat = await generateText({
      model: provider.chatModel(MODEL),
      prompt: "ai sdk says hi",
      maxRetries: 0,
    });
    expect(chat.text).toBe("ai sdk says hi");
    expect(chat.usage.outputTokens).toBe(4);
    expect(chat.response.headers?.["x-llm-price-usage"]).toBe("0.00000032");

    const legacy = await generateText({
      model: provider.completionModel(MODEL),
      prompt: "old style",
      maxRetries: 0,
    });
    expect(legacy.text).toContain("old style");
    expect(legacy.usage.outputTokens).toBeGreaterThan(0);

    const streamed = streamText({
      model: provider.chatModel(MODEL),
      prompt: "streaming with the sdk",
      maxRetries: 0,
    });
    let text = "";
    for await (const part of streamed.textStream) text += part;
    expect(text).toBe("streaming with the sdk");
    expect((await streamed.usage).outputTokens).toBe(4);
  });

  it("a browser's preflight, without the token, then the cross-origin call reading our headers", async () => {
    const origin = "http://localhost:5173";
    const preflight = await request(`${gw.url}/v1/chat/completions`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,x-stainless-lang",
      },
    });
    await preflight.body.dump();
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe("*");
    expect(String(preflight.headers["access-control-allow-headers"])).toContain("authorization");

    const browser = new OpenAI({
      baseURL: `${gw.url}/v1`,
      apiKey: GW_TOKEN,
      maxRetries: 0,
      defaultHeaders: { origin },
    });
    const { response } = await browser.chat.completions
      .create({ model: MODEL, messages: [{ role: "user", content: "from a page" }], max_tokens: 10 })
      .withResponse();
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
    expect(response.headers.get("access-control-expose-headers")).toContain("x-llm-price-quote");
    const { response: streamed } = await browser.chat.completions
      .create({ model: MODEL, messages: [{ role: "user", content: "a stream" }], stream: true })
      .withResponse();
    expect(streamed.headers.get("access-control-allow-origin")).toBe("*");
    expect(streamed.headers.get("access-control-expose-headers")).toContain("x-request-id");
    await streamed.body?.cancel();
  });
});

describe("long non-streaming answers and the hang watchdog", () => {
  beforeAll(() => assertBuilt());
  afterEach(async () => {
    await stopAllRunners();
  });

  it("answers non-streaming generations 3x longer than ENGINE_HANG_TIMEOUT without a restart", {
    timeout: 120_000,
  }, async () => {
    // 120 tokens at 25 ms: 3 s of generation under a 1 s hang timeout. One
    // request at a time: the watchdog is engine-wide, so a concurrent stream's tokens would hide a silent one.
    const runner = await startRunner({ ENGINE_HANG_TIMEOUT: "1", SIM_ITL_MS: "25", LOG_LEVEL: "warn" });
    const before = await runner.enginePid();
    const client = new OpenAI({ baseURL: `${runner.url}/v1`, apiKey: TOKEN, maxRetries: 0, timeout: 60_000 });
    const provider = createOpenAICompatible({ name: "runner", baseURL: `${runner.url}/v1`, apiKey: TOKEN });
    const prompt = words(120);
    const model = "meta-llama/Meta-Llama-3.1-8B-Instruct";
    const chat = await client.chat.completions.create({
      model,
      messages: [{ role: "user", content: prompt }],
      max_tokens: 120,
    });
    expect(chat.usage?.completion_tokens).toBe(120);
    const sdk = await generateText({
      model: provider.chatModel(model),
      prompt,
      maxOutputTokens: 120,
      maxRetries: 0,
    });
    expect(sdk.usage.outputTokens).toBe(120);
    const completion = await client.completions.create({ model, prompt, max_tokens: 120 });
    expect(completion.usage?.completion_tokens).toBe(120);
    const response = await client.responses.create({ model, input: prompt, max_output_tokens: 120 });
    expect(response.usage?.output_tokens).toBe(120);
    const status = await runner.status();
    expect(Number(status.restarts)).toBe(0);
    expect(status.lastError ?? null).toBeNull();
    expect(await runner.enginePid()).toBe(before);
  });

  it("still finds a hung engine under a non-streaming request: 502 saying so, engine restarted", {
    timeout: 120_000,
  }, async () => {
    // Every request hangs after admission (SIM_HANG_AFTER=0): no token ever comes.
    const runner = await startRunner({ ENGINE_HANG_TIMEOUT: "1", SIM_HANG_AFTER: "0", LOG_LEVEL: "error" });
    const client = new OpenAI({ baseURL: `${runner.url}/v1`, apiKey: TOKEN, maxRetries: 0, timeout: 60_000 });
    const err = await client.chat.completions
      .create({ model: "meta-llama/Meta-Llama-3.1-8B-Instruct", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((err as Error).message).toContain("made no progress for");
    expect((err as Error).message).toContain("restarted");
    const status = await runner.status();
    expect((status.lastError as { reason?: string } | null)?.reason).toBe("hang");
  });
});
