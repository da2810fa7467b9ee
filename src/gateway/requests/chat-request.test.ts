import { describe, expect, it } from "vitest";
import { parseChatRequest } from "./chat-request.js";

const ok = { model: "m", messages: [{ role: "user", content: "hi" }] };
const bad = (extra: Record<string, unknown>) => () => parseChatRequest({ ...ok, ...extra });

describe("parseChatRequest (OpenAI's rules on the fields the gateway reads)", () => {
  it("accepts OpenAI's roles and content shapes", () => {
    const messages = [
      { role: "developer", content: "be brief" },
      { role: "user", content: [{ type: "text", text: "hi" }] },
      { role: "assistant", content: null, tool_calls: [] },
      { role: "tool", content: "42", tool_call_id: "t1" },
    ];
    expect(parseChatRequest({ ...ok, messages, seed: 7, top_k: -1 }).maxTokens).toBeNull();
  });

  it("refuses a bad message, role or content with a 400 naming messages[i]", () => {
    expect(bad({ messages: ["hi"] })).toThrow(/messages\[0\] must be an object/);
    expect(bad({ messages: [{ role: "root", content: "x" }] })).toThrow(/messages\[0\]\.role must be one of/);
    expect(bad({ messages: [{ content: "x" }] })).toThrow(/messages\[0\]\.role .*got null/);
    expect(bad({ messages: [ok.messages[0], { role: "user", content: 5 }] })).toThrow(
      /messages\[1\]\.content must be a string or a list/,
    );
    expect(bad({ model: 5 })).toThrow(/model must be a string/);
  });

  it("refuses sampling values outside OpenAI's (and vLLM's) ranges", () => {
    expect(bad({ presence_penalty: 3 })).toThrow(/presence_penalty must be a number from -2 to 2/);
    expect(bad({ frequency_penalty: -2.5 })).toThrow(/frequency_penalty/);
    expect(bad({ top_logprobs: 21 })).toThrow(/top_logprobs must be an integer from 0 to 20/);
    expect(bad({ top_k: 2 ** 31 })).toThrow(/top_k must be an integer/);
    expect(bad({ top_k: -2 })).toThrow(/top_k/);
    expect(bad({ seed: 1.5 })).toThrow(/seed must be an integer/);
  });
});
