import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseEngineChunk } from "./engine-chunk.js";
import { readLlmChunk, scanLlmTextChunk } from "./llm-chunk-scan.js";

// vLLM's chunk with continuous_usage_stats (serving_chat.py: usage on every chunk, the role chunk included).
const vllmChunk = (content: string, completion: number) =>
  `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,` +
  `"delta":{"content":${JSON.stringify(content)}},"logprobs":null,"finish_reason":null}],` +
  `"usage":{"prompt_tokens":9,"total_tokens":${9 + completion},"completion_tokens":${completion}}}`;

/** What LlmRelay reads of a chunk: the scan must agree with the full parse on these. */
const relayView = (c: ReturnType<typeof parseEngineChunk>) => ({
  choices: c.choices,
  usage: c.usage,
  error: c.error,
});

/** The first value 3 times in 4 (so the fast path's shape comes up often), else one of the others. */
const often = <T>(usual: T, ...others: T[]) =>
  fc.oneof(
    { arbitrary: fc.constant(usual), weight: 3 },
    { arbitrary: fc.constantFrom(...others), weight: 1 },
  );

// Chunks of every shape the relay may meet: content with escapes, quotes and control characters, no usage,
// nested usage, a finish_reason, several choices, an error, a logprobs "content" array, broken JSON.
const anyChunk = fc
  .record({
    content: fc.oneof(fc.string(), fc.constantFrom('a"b', "a\\b", "line\nnext", "é ☃ 😀", "")),
    completion: fc.nat(5000),
    prompt: fc.nat(5000),
    finish: often(null, "stop", "length", ""),
    usage: often("flat", "none", "nested", "null"),
    choices: often(1, 2, 0),
    logprobs: often(false, true),
    error: often(false, true),
    role: fc.boolean(),
    cut: fc.nat(3),
  })
  .map((g) => {
    const usage = {
      prompt_tokens: g.prompt,
      total_tokens: g.prompt + g.completion,
      completion_tokens: g.completion,
    };
    const choice = (i: number) => ({
      index: i,
      delta: g.role ? { role: "assistant", content: g.content } : { content: g.content },
      logprobs: g.logprobs ? { content: [{ token: "x", logprob: -1 }] } : null,
      finish_reason: g.finish,
    });
    const chunk: Record<string, unknown> = {
      id: "chatcmpl-1",
      object: "chat.completion.chunk",
      created: 1,
      model: "m",
      choices: Array.from({ length: g.choices }, (_, i) => choice(i)),
    };
    if (g.usage === "flat") chunk.usage = usage;
    if (g.usage === "nested") chunk.usage = { ...usage, prompt_tokens_details: { cached_tokens: 1 } };
    if (g.usage === "null") chunk.usage = null;
    if (g.error) chunk.error = { message: "boom" };
    const text = JSON.stringify(chunk);
    return g.cut === 0 ? text.slice(0, text.length - 1) : text; // sometimes not valid JSON
  });

describe("scanLlmTextChunk", () => {
  it("takes vLLM's usual text chunk without a full parse, reading what the full parse reads", () => {
    for (const content of ["", " word3", "é ☃ 😀", "a b c"]) {
      const data = vllmChunk(content, 3);
      const scanned = scanLlmTextChunk(data);
      expect(scanned).not.toBeNull();
      expect(relayView(scanned as NonNullable<typeof scanned>)).toEqual(relayView(parseEngineChunk(data)));
    }
  });

  it("leaves to the full parse what it cannot read exactly", () => {
    expect(scanLlmTextChunk(vllmChunk('say "hi"', 1))).toBeNull(); // escaped quote
    expect(scanLlmTextChunk(vllmChunk("a\nb", 1))).toBeNull(); // escaped control character
    expect(
      scanLlmTextChunk(vllmChunk("x", 1).replace('"finish_reason":null', '"finish_reason":"stop"')),
    ).toBeNull();
    expect(scanLlmTextChunk(vllmChunk("x", 1).replace(/,"usage":\{[^}]*\}/, ""))).toBeNull();
    expect(scanLlmTextChunk('{"error":{"message":"boom"}}')).toBeNull();
  });

  it("agrees with parseEngineChunk on every chunk it answers, and readLlmChunk throws where it throws", () => {
    let fast = 0;
    fc.assert(
      fc.property(anyChunk, (data) => {
        const scanned = scanLlmTextChunk(data);
        let full: ReturnType<typeof parseEngineChunk> | Error;
        try {
          full = parseEngineChunk(data);
        } catch (err) {
          full = err as Error;
        }
        if (scanned !== null) {
          fast++;
          expect(full).not.toBeInstanceOf(Error);
          expect(relayView(scanned)).toEqual(relayView(full as ReturnType<typeof parseEngineChunk>));
        }
        if (full instanceof Error) expect(() => readLlmChunk(data)).toThrow(full.message);
        else expect(relayView(readLlmChunk(data))).toEqual(relayView(full));
      }),
      { numRuns: 2000 },
    );
    expect(fast).toBeGreaterThan(100); // the fast path is really taken, not always skipped
  });
});
