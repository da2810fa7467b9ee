// The simulator's prefix cache seen through the runner (ENGINE=sim, the built CLI): a repeated long prompt finds its
// blocks cached, so it reports cached_tokens (ENABLE_PROMPT_TOKENS_DETAILS=true, vLLM's
// --enable-prompt-tokens-details) and its first token comes sooner; the engine's vllm:prefix_cache_hits_total on
// /metrics rises by the same tokens. runtime/README.md ("Prefix cache") states the rules the numbers follow.
import { request } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "./helpers/cli.js";
import {
  authHeaders,
  clientAgent,
  metric,
  metricsText,
  startRunner,
  stopAllRunners,
  words,
} from "./helpers/load.js";

const MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct";
// 3,000 words, then the chat template's tokens: 3 + 3000 + 1 around the message and 3 for the reply = 3,007 tokens,
// whose first 187 full blocks (2,992 tokens) a repeat finds cached.
const PROMPT = words(3000);
const CACHED = 2992;
const PREFILL_TPS = 5000; // 3,007 tokens take 0.6 s to compute, 15 take 3 ms

afterAll(stopAllRunners);

/** Streams one chat completion; returns when its first token arrived (ms after the request) and its usage. */
async function streamChat(url: string): Promise<{ ttftMs: number; usage: Record<string, unknown> }> {
  const started = performance.now();
  const res = await request(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: authHeaders(),
    body: JSON.stringify({
      model: MODEL,
      messages: [{ role: "user", content: PROMPT }],
      max_tokens: 4,
      stream: true,
      stream_options: { include_usage: true },
    }),
    dispatcher: clientAgent,
    signal: AbortSignal.timeout(30_000),
  });
  expect(res.statusCode).toBe(200);
  let text = "";
  let ttftMs = -1;
  for await (const chunk of res.body) {
    text += chunk.toString();
    if (ttftMs < 0 && text.includes('"content":"w')) ttftMs = performance.now() - started;
  }
  const frames = text.split("\n\n").filter((f) => f.startsWith("data: {"));
  const last = JSON.parse((frames.at(-1) as string).slice(6)) as { usage: Record<string, unknown> };
  return { ttftMs, usage: last.usage };
}

describe("the simulator's prefix cache through the runner", () => {
  it("answers a repeated long prompt from cached blocks: cached_tokens, a shorter first token, hits on /metrics", async () => {
    const runner = await startRunner({
      SIM_PREFILL_TPS: String(PREFILL_TPS),
      ENABLE_PROMPT_TOKENS_DETAILS: "true",
    });
    expect(metric(await metricsText(runner.url), "vllm:prefix_cache_hits_total")).toBe(0);

    const first = await streamChat(runner.url);
    expect(first.usage).toMatchObject({ prompt_tokens: 3007, prompt_tokens_details: { cached_tokens: 0 } });
    expect(first.ttftMs).toBeGreaterThanOrEqual((3007 / PREFILL_TPS) * 1000);

    const second = await streamChat(runner.url);
    expect(second.usage).toMatchObject({
      prompt_tokens: 3007,
      prompt_tokens_details: { cached_tokens: CACHED },
    });
    expect(second.ttftMs).toBeLessThan(first.ttftMs / 2);

    // The gateway reads the engine's series at most every 2 s.
    const metrics = await waitFor(
      async () => {
        const text = await metricsText(runner.url);
        return metric(text, "vllm:prefix_cache_queries_total") === 2 * 3007 ? text : null;
      },
      10_000,
      "the engine's prefix-cache counters on /metrics",
    );
    expect(metric(metrics, "vllm:prefix_cache_hits_total")).toBe(CACHED);
  });

  it("a non-streaming answer carries the engine's cached_tokens too", async () => {
    const runner = await startRunner({ SIM_PREFILL_TPS: "0", ENABLE_PROMPT_TOKENS_DETAILS: "true" });
    const ask = async () => {
      const res = await request(`${runner.url}/v1/chat/completions`, {
        method: "POST",
        headers: authHeaders(),
        body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: PROMPT }], max_tokens: 2 }),
        dispatcher: clientAgent,
      });
      expect(res.statusCode).toBe(200);
      return ((await res.body.json()) as { usage: Record<string, unknown> }).usage;
    };
    expect(await ask()).toMatchObject({ prompt_tokens_details: { cached_tokens: 0 } });
    expect(await ask()).toMatchObject({
      prompt_tokens: 3007,
      prompt_tokens_details: { cached_tokens: CACHED },
    });
  });
});
