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
