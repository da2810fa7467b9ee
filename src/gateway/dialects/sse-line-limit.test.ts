import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LlmDialect } from "./llm-dialect.js";
import { MAX_SSE_LINE_BYTES, splitForBudget } from "./sse-line-limit.js";

const lines = (out: string) => out.split("\n").filter((l) => l !== "");

describe("splitForBudget", () => {
  it("cuts text into pieces that fit the budget escaped, never inside a code point, losing nothing", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme", maxLength: 400 }),
        fc.integer({ min: 12, max: 64 }),
        (text, budget) => {
          const pieces = splitForBudget(text, budget);
          expect(pieces.join("")).toBe(text);
          for (const p of pieces) {
            expect(Buffer.byteLength(JSON.stringify(p)) - 2).toBeLessThanOrEqual(budget);
            expect(p).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("/llm frames stay within Go's 64 KiB scanner line", () => {
  const engineChunk = (content: string) =>
    JSON.stringify({
      id: "e",
      choices: [{ index: 0, delta: { content }, finish_reason: null }],
      usage: { prompt_tokens: 4, completion_tokens: 1, total_tokens: 5 },
    });

  it("splits one huge chunk (ASCII, multi-byte, escapes) into valid chunks that join to the same text", () => {
    for (const content of ["x".repeat(300_000), "é🙂".repeat(40_000), '"\\\n\u0001'.repeat(30_000)]) {
      const relay = new LlmDialect({ id: "chatcmpl-1", model: "m", created: 1 }, 100);
      const step = relay.onData(engineChunk(content));
      const out = lines(step.out ?? "");
      expect(out.length).toBeGreaterThan(1);
      let joined = "";
      for (const line of out) {
        expect(Buffer.byteLength(line)).toBeLessThanOrEqual(MAX_SSE_LINE_BYTES);
        const chunk = JSON.parse(line.slice("data: ".length));
        expect(chunk.choices[0]).toMatchObject({ index: 0, finish_reason: "" });
        expect(chunk.usage).toEqual({ prompt_tokens: 4, completion_tokens: 1, total_tokens: 5 });
        joined += chunk.choices[0].delta.content;
      }
      expect(joined).toBe(content);
      expect(step.tokens).toBe(1);
      expect(relay.response().choices[0]?.message.content).toBe(content);
    }
  });

  it("cuts a huge error message so the error frame stays one line", () => {
    const relay = new LlmDialect({ id: "chatcmpl-1", model: "m", created: 1 }, 100);
    const out = lines(relay.errorFrames("boom ".repeat(50_000)));
    expect(out).toHaveLength(1);
    expect(Buffer.byteLength(out[0] as string)).toBeLessThan(8192);
  });
});
