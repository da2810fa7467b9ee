import { describe, expect, it } from "vitest";
import { AnswerAssembler } from "./answer-assembler.js";

const usage = { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 };
const head = { id: "chatcmpl-1", object: "chat.completion.chunk", created: 7, model: "m" };

describe("AnswerAssembler (chat)", () => {
  it("joins tool-call deltas by index, reasoning, and logprobs as vLLM's non-streaming answer has them", () => {
    const a = new AnswerAssembler("chat", "fallback", () => 0);
    const lp = (token: string) => ({ token, logprob: -0.1, bytes: null, top_logprobs: [] });
    a.add({ ...head, choices: [{ index: 0, delta: { role: "assistant", reasoning_content: "think " } }] });
    a.add({
      ...head,
      choices: [{ index: 0, delta: { reasoning_content: "more" }, logprobs: { content: [lp("a")] } }],
    });
    a.add({
      ...head,
      choices: [
        {
          index: 0,
          delta: {
            tool_calls: [
              { index: 0, id: "call_1", type: "function", function: { name: "get_", arguments: '{"ci' } },
            ],
          },
          logprobs: { content: [lp("b")] },
        },
      ],
    });
    a.add({
      ...head,
      choices: [
        {
          index: 0,
          delta: { tool_calls: [{ index: 0, function: { name: "weather", arguments: 'ty":"Oslo"}' } }] },
        },
      ],
    });
    a.add({ ...head, choices: [{ index: 0, delta: {}, finish_reason: "tool_calls", stop_reason: null }] });
    a.add({ ...head, choices: [], usage });
    const answer = a.response(usage, "unused") as { choices: Array<Record<string, unknown>>; id: string };
    expect(answer.id).toBe("chatcmpl-1");
    expect(answer.choices[0]).toEqual({
      index: 0,
      message: {
        role: "assistant",
        content: "",
        refusal: null,
        annotations: null,
        audio: null,
        function_call: null,
        tool_calls: [
          { id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Oslo"}' } },
        ],
        reasoning_content: "think more",
      },
      logprobs: { content: [lp("a"), lp("b")] },
      finish_reason: "tool_calls",
      stop_reason: null,
    });
  });

  it("says length when the gateway cut the answer, and falls back to its own id and model", () => {
    const a = new AnswerAssembler("chat", "served-model", () => 9_000);
    a.add({ choices: [{ index: 0, delta: { content: "ab" } }] });
    a.cutAtLength();
    const answer = a.response(usage, "chatcmpl-own") as Record<string, unknown>;
    expect(answer).toMatchObject({ id: "chatcmpl-own", model: "served-model", created: 9 });
    expect((answer.choices as Array<Record<string, unknown>>)[0]).toMatchObject({ finish_reason: "length" });
  });
});

describe("AnswerAssembler (completion)", () => {
  it("concatenates text and the four logprobs arrays", () => {
    const a = new AnswerAssembler("completion", "m", () => 0);
    const lp = (t: string, o: number) => ({
      text_offset: [o],
      token_logprobs: [-1],
      tokens: [t],
      top_logprobs: [null],
    });
    a.add({
      id: "cmpl-1",
      created: 1,
      model: "m",
      choices: [{ index: 0, text: "Hi", logprobs: lp("Hi", 0) }],
    });
    a.add({
      choices: [{ index: 0, text: "!", logprobs: lp("!", 2), finish_reason: "stop", stop_reason: "!" }],
    });
    const answer = a.response(usage, "x") as { choices: Array<Record<string, unknown>>; object: string };
    expect(answer.object).toBe("text_completion");
    expect(answer.choices[0]).toEqual({
      index: 0,
      text: "Hi!",
      logprobs: {
        text_offset: [0, 2],
        token_logprobs: [-1, -1],
        tokens: ["Hi", "!"],
        top_logprobs: [null, null],
      },
      finish_reason: "stop",
      stop_reason: "!",
      prompt_logprobs: null,
    });
    expect("prompt_logprobs" in answer).toBe(false);
  });
});
