import { describe, expect, it } from "vitest";
import { chatBlocks, completionBlocks, responsesBlocks } from "./prompt-blocks.js";

const text = (words: number, seed: string) =>
  Array.from({ length: words }, (_, i) => `${seed}${i % 17}`).join(" ");
const SYSTEM = text(200, "sys");

describe("prompt rendering for the prefix router", () => {
  it("a conversation's next request starts with every block of the one before", () => {
    const first = [
      { role: "system", content: SYSTEM },
      { role: "user", content: text(60, "q") },
    ];
    const next = [...first, { role: "assistant", content: text(40, "a") }, { role: "user", content: "and?" }];
    const a = [...chatBlocks({ messages: first })];
    const b = [...chatBlocks({ messages: next })];
    expect(a.length).toBeGreaterThan(10);
    expect(b.slice(0, a.length)).toEqual(a);
    expect(b.length).toBeGreaterThan(a.length);
  });

  it("two users of one system prompt share its blocks and part ways after it", () => {
    const a = [
      ...chatBlocks({
        messages: [
          { role: "system", content: SYSTEM },
          { role: "user", content: text(50, "x") },
        ],
      }),
    ];
    const b = [
      ...chatBlocks({
        messages: [
          { role: "system", content: SYSTEM },
          { role: "user", content: text(50, "y") },
        ],
      }),
    ];
    const shared = a.findIndex((h, i) => h !== b[i]);
    // Common: separator, "system", separator, the system text, separator, "user", separator; then x0 vs y0.
    expect(shared).toBe(Math.floor((1 + 6 + 1 + SYSTEM.length + 1 + 4 + 1) / 64));
  });

  it("the tools come first: an agent's tool list is a shared prefix whatever the messages", () => {
    const tools = [{ type: "function", function: { name: "search", parameters: { q: text(200, "p") } } }];
    const a = [...chatBlocks({ tools, messages: [{ role: "user", content: "one" }] })];
    const b = [...chatBlocks({ tools, messages: [{ role: "user", content: "two" }] })];
    expect(a.length).toBeGreaterThan(10);
    expect(a.slice(0, 10)).toEqual(b.slice(0, 10));
    expect([...chatBlocks({ messages: [{ role: "user", content: "one" }] })]).toHaveLength(0);
  });

  it("a text part renders as the same text given as a string", () => {
    const s = text(40, "w");
    expect([...chatBlocks({ messages: [{ role: "user", content: [{ type: "text", text: s }] }] })]).toEqual([
      ...chatBlocks({ messages: [{ role: "user", content: s }] }),
    ]);
  });

  it("the role is part of the prompt: the same text as system and as user differs", () => {
    const s = text(40, "w");
    expect(chatBlocks({ messages: [{ role: "system", content: s }] })[0]).not.toBe(
      chatBlocks({ messages: [{ role: "user", content: s }] })[0],
    );
  });

  it("completions: a prompt and a one-prompt list hash alike; token ids go 16 to a block", () => {
    const s = text(60, "c");
    expect([...completionBlocks({ prompt: [s] })]).toEqual([...completionBlocks({ prompt: s })]);
    expect(completionBlocks({ prompt: Array.from({ length: 33 }, (_, i) => i) })).toHaveLength(2);
  });

  it("responses: a string input hashes as one user message; instructions lead", () => {
    const s = text(60, "r");
    expect([...responsesBlocks({ input: s })]).toEqual([
      ...responsesBlocks({ input: [{ role: "user", content: s }] }),
    ]);
    const withInstructions = [...responsesBlocks({ instructions: SYSTEM, input: "hi" })];
    const other = [...responsesBlocks({ instructions: SYSTEM, input: "bye" })];
    expect(withInstructions.slice(0, 15)).toEqual(other.slice(0, 15));
  });
});
