import { describe, expect, it } from "vitest";
import { GatewayError } from "../http/gateway-error.js";
import { FakeUpstream } from "../testing/fake-upstream.js";
import { contextFitPlan } from "./context-fit.js";

const endpoint = { baseUrl: "http://127.0.0.1:1", apiKey: "k", generation: 1 };
const messages = [{ role: "user", content: "hello" }];

function setup(maxTokens: number, tokenize: { status?: number; body: string }) {
  const upstream = new FakeUpstream(() => ({ status: tokenize.status ?? 200, body: [tokenize.body] }));
  const plan = contextFitPlan({
    upstream,
    modelId: "m",
    maxModelLen: 8192,
    messages,
    maxTokens,
    requestId: "r1",
    body: (n) => `max_tokens=${n}`,
  });
  return { plan, upstream, signal: new AbortController().signal };
}

describe("contextFitPlan", () => {
  it("sends max_tokens below MAX_MODEL_LEN as it is, without counting the prompt", async () => {
    const { plan, upstream, signal } = setup(8191, { body: "{}" });
    expect(await plan.first(endpoint, signal)).toBe("max_tokens=8191");
    expect(upstream.requests).toHaveLength(0);
  });

  it("clamps max_tokens ≥ MAX_MODEL_LEN to the room the engine's /tokenize count leaves", async () => {
    const { plan, upstream, signal } = setup(100_000, { body: '{"count":12,"max_model_len":4096}' });
    // The engine's own max_model_len wins over the configured one.
    expect(await plan.first(endpoint, signal)).toBe("max_tokens=4084");
    expect(upstream.requests.map((r) => [r.path, JSON.parse(r.body ?? "")])).toEqual([
      ["/tokenize", { model: "m", messages, add_generation_prompt: true }],
    ]);
  });

  it("after an engine 400, resends clamped only when prompt + max_tokens passes the context", async () => {
    const over = setup(8000, { body: '{"count":500}' });
    expect(await over.plan.afterRefusal(endpoint, over.signal)).toBe("max_tokens=7692");
    const fits = setup(8000, { body: '{"count":100}' });
    expect(await fits.plan.afterRefusal(endpoint, fits.signal)).toBeNull();
  });

  it("answers 400 when the prompt alone fills the context", async () => {
    const { plan, signal } = setup(100_000, { body: '{"count":8192}' });
    const err = await plan.first(endpoint, signal).catch((e) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err.status).toBe(400);
    expect(err.message).toBe(
      "The prompt is 8192 tokens, which fills the model's context of 8192 tokens (MAX_MODEL_LEN) with no room for an answer; shorten the messages.",
    );
  });

  it("lets the engine's refusal stand when /tokenize fails after it, and fails loudly before the first send", async () => {
    const after = setup(8000, { status: 500, body: '{"error":{"message":"boom"}}' });
    expect(await after.plan.afterRefusal(endpoint, after.signal)).toBeNull();
    const before = setup(9000, { status: 500, body: '{"error":{"message":"boom"}}' });
    await expect(before.plan.first(endpoint, before.signal)).rejects.toThrow(
      "/tokenize answered HTTP 500: boom",
    );
  });
});
