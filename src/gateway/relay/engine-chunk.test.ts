import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseEngineChunk, scanTextChunk } from "./engine-chunk.js";

const head = { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "m" };

describe("scanTextChunk", () => {
  it("agrees with the full parse on whether a chunk carries text, for any text", () => {
    // Texts that look like the keys the scan looks for must not fool it.
    const text = fc.oneof(
      fc.string(),
      fc.constantFrom(
        '"content":"',
        '"usage":',
        '"error":{"message":"x"}',
        '"finish_reason":"stop"',
        '\\"',
        "",
      ),
    );
    fc.assert(
      fc.property(text, fc.boolean(), (content, withRole) => {
        const delta = withRole ? { role: "assistant", content } : { content };
        const data = JSON.stringify({
          ...head,
          choices: [{ index: 0, delta, logprobs: null, finish_reason: null }],
        });
        const scanned = scanTextChunk(data);
        const parsed = parseEngineChunk(data);
        expect(parsed.usage).toBeNull();
        // null only sends the chunk to the full parse, which is always right
        if (scanned !== null) expect(scanned).toBe((parsed.choices[0]?.content ?? "") !== "");
        else expect(content).toMatch(/usage|error|finish_reason/);
      }),
      { numRuns: 500 },
    );
  });

  it("sends chunks with usage, an error, a finish_reason or an unknown shape to the full parse", () => {
    const choice = (over: object) => ({
      index: 0,
      delta: { content: "x" },
      logprobs: null,
      finish_reason: null,
      ...over,
    });
    expect(scanTextChunk(JSON.stringify({ ...head, choices: [choice({})] }))).toBe(true);
    expect(scanTextChunk(JSON.stringify({ ...head, choices: [choice({ delta: {} })] }))).toBe(false);
    expect(scanTextChunk(JSON.stringify({ ...head, choices: [choice({ delta: { content: "" } })] }))).toBe(
      false,
    );
    expect(
      scanTextChunk(JSON.stringify({ ...head, choices: [choice({ finish_reason: "length" })] })),
    ).toBeNull();
    expect(scanTextChunk(JSON.stringify({ ...head, choices: [], usage: { prompt_tokens: 1 } }))).toBeNull();
    expect(scanTextChunk(JSON.stringify({ error: { message: "boom" } }))).toBeNull();
    expect(
      scanTextChunk(JSON.stringify({ ...head, choices: [choice({ delta: { content: null } })] })),
    ).toBeNull();
    expect(scanTextChunk('{"choices":[{"delta":{"content": "spaced"}}]}')).toBeNull();
    expect(scanTextChunk('{"choices":[{"delta":{},"finish_reason": null}]}')).toBeNull();
  });
});

describe("scanTextChunk over chunks of every shape", () => {
  // One choice or none (n > 1 is refused at the door: chat-request.ts, completion-request.ts), of either kind,
  // each finish_reason, usage in any form, an error, a logprobs "content" array, content null or absent.
  const choice = fc.record({
    body: fc.constantFrom("content", "content", "empty", "null", "none", "text"),
    text: fc.oneof(fc.string(), fc.constantFrom('"finish_reason":"stop"', '"usage":', "")),
    finish: fc.constantFrom(null, null, "stop", "length", "", "absent"),
    logprobs: fc.boolean(),
  });
  const chunk = fc
    .record({
      choices: fc.array(choice, { maxLength: 1 }),
      usage: fc.constantFrom("none", "none", "flat", "null"),
      error: fc.boolean(),
    })
    .map((g) => {
      const choices = g.choices.map((c, index) => {
        const out: Record<string, unknown> = { index };
        if (c.body === "text") out.text = c.text;
        else if (c.body === "none") out.delta = {};
        else out.delta = { content: c.body === "null" ? null : c.body === "empty" ? "" : c.text };
        out.logprobs = c.logprobs ? { content: [{ token: "x", logprob: -1 }] } : null;
        if (c.finish !== "absent") out.finish_reason = c.finish;
        return out;
      });
      const data: Record<string, unknown> = { ...head, choices };
      if (g.usage === "flat") data.usage = { prompt_tokens: 3, total_tokens: 4, completion_tokens: 1 };
      if (g.usage === "null") data.usage = null;
      if (g.error) data.error = { message: "boom" };
      return JSON.stringify(data);
    });

  it("answers only for chunks the relay would account the same way as after a full parse", () => {
    let fast = 0;
    fc.assert(
      fc.property(chunk, (data) => {
        const scanned = scanTextChunk(data);
        if (scanned === null) return;
        fast++;
        const parsed = parseEngineChunk(data);
        expect(parsed.error).toBeNull();
        expect(parsed.usage).toBeNull();
        expect(parsed.choices[0]?.finishReason ?? null).toBeNull();
        expect(scanned).toBe((parsed.choices[0]?.content ?? "") !== "");
      }),
      { numRuns: 2000 },
    );
    expect(fast).toBeGreaterThan(100); // the fast path is really taken
  });
});

describe("text_completion chunks", () => {
  const cmpl = { id: "cmpl-1", object: "text_completion", created: 1, model: "m" };
  const choice = (text: string, finish: string | null = null) => ({
    index: 0,
    text,
    logprobs: null,
    finish_reason: finish,
    stop_reason: null,
  });

  it("are read by their text, by the scan and the full parse alike", () => {
    const data = JSON.stringify({ ...cmpl, choices: [choice("hi")] });
    expect(scanTextChunk(data)).toBe(true);
    expect(parseEngineChunk(data).choices[0]?.content).toBe("hi");
    expect(scanTextChunk(JSON.stringify({ ...cmpl, choices: [choice("")] }))).toBe(false);
    expect(scanTextChunk(JSON.stringify({ ...cmpl, choices: [choice("x", "length")] }))).toBeNull();
  });
});
