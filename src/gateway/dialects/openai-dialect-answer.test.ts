import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AnswerAssembler } from "./answer-assembler.js";
import type { RelayStep } from "./dialect.js";
import { type CompletionKind, scanTextChunk } from "./engine-chunk.js";
import { OpenAiDialect } from "./openai-dialect.js";

/** The reference: every chunk the relay lets through is parsed in full into the assembler. */
function fullParse(kind: CompletionKind, maxTokens: number, chunks: string[]) {
  const relay = new OpenAiDialect(maxTokens, false, kind);
  const assembler = new AnswerAssembler(kind, "fallback-model", () => 1_000_000);
  const steps: RelayStep[] = [];
  for (const data of chunks) {
    const step = relay.onData(data);
    steps.push(step);
    if (step.end === "cut") {
      assembler.cutAtLength();
      break;
    }
    const chunk: unknown = JSON.parse(data);
    if (typeof chunk === "object" && chunk !== null && !("error" in chunk)) {
      assembler.add(chunk as Record<string, unknown>);
    }
  }
  return { steps, answer: assembler.response(relay.usage(), "fallback-id"), error: relay.reportedError() };
}

function assembled(kind: CompletionKind, maxTokens: number, chunks: string[]) {
  const assembler = new AnswerAssembler(kind, "fallback-model", () => 1_000_000);
  const dialect = new OpenAiDialect(maxTokens, false, kind, { assembler, fallbackId: "fallback-id" });
  const steps: RelayStep[] = [];
  for (const data of chunks) {
    const step = dialect.onData(data);
    steps.push(step);
    if (step.end === "cut") break;
  }
  return {
    steps,
    answer: dialect.answer()?.body,
    error: dialect.reportedError(),
  };
}

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.constantFrom("", " world", 'a"b', "a\\b", "line\nnext", "tab\t", "é ☃ 😀", "\u2028", "}]}", '"},"x":"'),
);
// Heads: vLLM's own, one without an id (a later chunk's then counts), one with another id, one with an error key.
const head = fc.constantFrom<Record<string, unknown>>(
  { id: "chatcmpl-1", object: "chat.completion.chunk", created: 7, model: "m" },
  { id: "chatcmpl-1", object: "chat.completion.chunk", created: 7, model: "m" },
  { object: "chat.completion.chunk", created: 7, model: "m" },
  { id: "chatcmpl-2", object: "chat.completion.chunk", created: 8, model: "other" },
  { id: "chatcmpl-1", error: null, created: 7, model: "m" },
);
const finish = fc.constantFrom(null, null, "stop", "length", "", "tool_calls");
const logprobs = (kind: CompletionKind) =>
  kind === "chat"
    ? fc.constantFrom(null, null, { content: [{ token: "a", logprob: -0.1, bytes: null, top_logprobs: [] }] })
    : fc.constantFrom(null, null, {
        text_offset: [3],
        token_logprobs: [-0.2],
        tokens: ["a"],
        top_logprobs: [null],
      });

/** One choice of every shape the assembler reads: text, reasoning, tool calls, logprobs, finish, other index. */
function choice(kind: CompletionKind) {
  return fc
    .record({
      index: fc.constantFrom(0, 0, 0, 1),
      text,
      role: fc.boolean(),
      extra: fc.constantFrom("none", "none", "none", "reasoning", "tool", "refusal"),
      logprobs: logprobs(kind),
      finish,
      stopReason: fc.constantFrom("absent", "null", "absent", "stop-token"),
    })
    .map((c) => {
      const tail: Record<string, unknown> = { logprobs: c.logprobs, finish_reason: c.finish };
      if (c.stopReason === "null") tail.stop_reason = null;
      if (c.stopReason === "stop-token") tail.stop_reason = 42;
      if (kind === "completion") return { index: c.index, text: c.text, ...tail };
      const delta: Record<string, unknown> = c.role
        ? { role: "assistant", content: c.text }
        : { content: c.text };
      if (c.extra === "reasoning") delta.reasoning_content = c.text;
      if (c.extra === "refusal") delta.refusal = "no";
      if (c.extra === "tool") {
        delta.tool_calls = [
          { index: 0, id: "call_1", type: "function", function: { name: "f", arguments: c.text } },
        ];
      }
      return { index: c.index, delta, ...tail };
    });
}

function chunk(kind: CompletionKind) {
  const usage = { prompt_tokens: 5, total_tokens: 9, completion_tokens: 4 };
  return fc.oneof(
    // The usual text chunk, 3 times in 6.
    {
      arbitrary: fc.tuple(head, choice(kind)).map(([h, c]) => JSON.stringify({ ...h, choices: [c] })),
      weight: 6,
    },
    {
      arbitrary: fc
        .tuple(head, fc.array(choice(kind), { minLength: 0, maxLength: 3 }))
        .map(([h, cs]) => JSON.stringify({ ...h, choices: cs })),
      weight: 2,
    },
    { arbitrary: head.map((h) => JSON.stringify({ ...h, choices: [], usage })), weight: 1 },
    { arbitrary: fc.constant(JSON.stringify({ error: { message: "boom", code: 500 } })), weight: 1 },
    // A duplicate "choices" (JSON.parse keeps the last) and a nested one (not the chunk's own).
    {
      arbitrary: fc
        .tuple(head, choice(kind), choice(kind))
        .map(
          ([h, a, b]) =>
            `${JSON.stringify({ ...h, choices: [a] }).slice(0, -1)},"choices":${JSON.stringify([b])}}`,
        ),
      weight: 1,
    },
    {
      arbitrary: fc.tuple(head, choice(kind)).map(([h, c]) => JSON.stringify({ ...h, x: { choices: [c] } })),
      weight: 1,
    },
    // Continuous usage on a text chunk (not asked for by the route, but read right if it comes).
    {
      arbitrary: fc.tuple(head, choice(kind)).map(([h, c]) => JSON.stringify({ ...h, choices: [c], usage })),
      weight: 1,
    },
  );
}

const stream = fc.constantFrom<CompletionKind>("chat", "completion").chain((kind) =>
  fc.record({
    kind: fc.constant(kind),
    maxTokens: fc.constantFrom(1, 3, 1000),
    chunks: fc.array(chunk(kind), { maxLength: 30 }),
  }),
);

describe("OpenAiDialect assembling a non-streaming answer", () => {
  it("assembles the same answer as a full parse of every chunk, for any chunk stream", () => {
    fc.assert(
      fc.property(stream, ({ kind, maxTokens, chunks }) => {
        expect(assembled(kind, maxTokens, chunks)).toEqual(fullParse(kind, maxTokens, chunks));
      }),
      { numRuns: 2000 },
    );
  });

  it("reads vLLM's usual text chunks by the scan (the property above then covers the fast path)", () => {
    const chat =
      '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,' +
      '"delta":{"content":"héllo ☃"},"logprobs":null,"finish_reason":null}]}';
    const completion =
      '{"id":"cmpl-1","object":"text_completion","created":7,"model":"m","choices":[{"index":0,' +
      '"text":" world","logprobs":null,"finish_reason":null,"stop_reason":null}]}';
    const plain = (data: string, kind: CompletionKind) => {
      const scanned = scanTextChunk(data, kind);
      return scanned?.plain && scanned.usage === null ? scanned.literal : null;
    };
    expect(plain(chat, "chat")).toBe("héllo ☃");
    expect(plain(completion, "completion")).toBe(" world");
    // Anything else goes to the full parse: an escape, a finish_reason, logprobs, the other kind's shape.
    expect(plain(chat.replace("héllo", 'a\\"b'), "chat")).toBeNull();
    expect(plain(chat.replace('"finish_reason":null', '"finish_reason":"stop"'), "chat")).toBeNull();
    expect(plain(chat.replace('"logprobs":null', '"logprobs":{"content":[]}'), "chat")).toBeNull();
    expect(plain(completion, "chat")).toBeNull();
    expect(plain(chat.replace('"id"', '"error":null,"id"'), "chat")).toBeNull();
  });
});
