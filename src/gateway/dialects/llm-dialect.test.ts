import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LlmDialect } from "./llm-dialect.js";

const engineChunk = (content: string, completion: number) =>
  JSON.stringify({
    id: "e",
    object: "chat.completion.chunk",
    created: 1,
    model: "m",
    choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }],
    usage: { prompt_tokens: 4, completion_tokens: completion, total_tokens: 4 + completion },
  });

describe("LlmDialect frames", () => {
  it("are exactly JSON.stringify of the AI-runner chunk, whatever the text and identity", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.nat(), (id, model, content, created) => {
        const relay = new LlmDialect({ id, model, created }, 100);
        const step = relay.onData(engineChunk(content, 1));
        const expected = {
          id,
          model,
          created,
          choices: [{ index: 0, delta: { role: "assistant", content }, finish_reason: "" }],
          usage: {
            prompt_tokens: 4,
            completion_tokens: content === "" ? 0 : 1,
            total_tokens: content === "" ? 4 : 5,
          },
        };
        expect(step.out).toBe(`data: ${JSON.stringify(expected)}\n\n`);
      }),
      { numRuns: 300 },
    );
  });
});
