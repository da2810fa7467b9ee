import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  parseEngineChunk,
  readEngineChunk,
  scanTextChunk,
  type TextChunk,
  TextChunkScanner,
} from "./engine-chunk.js";

const head = { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "m" };

/** The text a scanned literal stands for. */
const text = (scanned: TextChunk): string => JSON.parse(`"${scanned.literal}"`);

// vLLM's chunk with continuous_usage_stats (serving_chat.py: usage on every chunk, the role chunk included).
const vllmChunk = (content: string, completion: number) =>
  `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,` +
  `"delta":{"content":${JSON.stringify(content)}},"logprobs":null,"finish_reason":null}],` +
  `"usage":{"prompt_tokens":9,"total_tokens":${9 + completion},"completion_tokens":${completion}}}`;

/** What a dialect reads of a chunk: the scan must agree with the full parse on these. */
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

describe("scanTextChunk", () => {
  it("reads the text of vLLM's chat text chunk as the full parse does, for any text", () => {
    // Texts that look like the keys the scan looks for must not fool it.
    const content = fc.oneof(
      fc.string(),
      fc.string({ unit: "grapheme" }),
      fc.constantFrom(
        '"content":"',
        '"usage":',
        '"error":{"message":"x"}',
        '"finish_reason":"stop"',
        '\\"',
        "\\",
        "",
      ),
    );
    fc.assert(
      fc.property(content, fc.boolean(), (content, withRole) => {
        const delta = withRole ? { role: "assistant", content } : { content };
        const data = JSON.stringify({
          ...head,
          choices: [{ index: 0, delta, logprobs: null, finish_reason: null }],
        });
        const scanned = scanTextChunk(data, "chat");
        expect(scanned).not.toBeNull();
        expect(text(scanned as TextChunk)).toBe(parseEngineChunk(data).choices[0]?.content);
        expect(scanned?.plain).toBe(JSON.stringify(content) === `"${content}"`);
        expect(scanned?.usage).toBeNull();
      }),
      { numRuns: 500 },
    );
  });

  it("reads vLLM's chunk with continuous usage, its usage included", () => {
    for (const content of ["", " word3", "é ☃ 😀", "a b c", 'say "hi"', "a\nb"]) {
      const data = vllmChunk(content, 3);
      const scanned = scanTextChunk(data, "chat");
      expect(scanned).not.toBeNull();
      expect(text(scanned as TextChunk)).toBe(content);
      expect(scanned?.usage).toEqual(parseEngineChunk(data).usage);
    }
  });

  it("sends chunks with a finish_reason, logprobs, an error, a nested usage or an unknown shape to the full parse", () => {
    const choice = (over: object) => ({
      index: 0,
      delta: { content: "x" },
      logprobs: null,
      finish_reason: null,
      ...over,
    });
    expect(scanTextChunk(JSON.stringify({ ...head, choices: [choice({})] }), "chat")?.literal).toBe("x");
    for (const data of [
      JSON.stringify({ ...head, choices: [choice({ delta: {} })] }),
      JSON.stringify({ ...head, choices: [choice({ finish_reason: "length" })] }),
      JSON.stringify({ ...head, choices: [choice({ logprobs: { content: [] } })] }),
      JSON.stringify({ ...head, choices: [], usage: { prompt_tokens: 1 } }),
      JSON.stringify({ error: { message: "boom" } }),
      JSON.stringify({ ...head, error: null, choices: [choice({})] }),
      JSON.stringify({ ...head, choices: [choice({ delta: { content: null } })] }),
      vllmChunk("x", 1).replace(
        '"total_tokens"',
        '"prompt_tokens_details":{"cached_tokens":1},"total_tokens"',
      ),
      vllmChunk("x", 1).replace('"finish_reason":null', '"finish_reason":"stop"'),
      '{"choices":[{"delta":{"content": "spaced"}}]}',
      '{"choices":[{"delta":{},"finish_reason": null}]}',
    ]) {
      expect(scanTextChunk(data, "chat")).toBeNull();
    }
    // The other kind's shape is not this kind's text chunk.
    expect(scanTextChunk(JSON.stringify({ ...head, choices: [choice({})] }), "completion")).toBeNull();
  });
});

describe("scanTextChunk over chunks of every shape", () => {
  // One choice or none (n > 1 is refused at the door: chat-request.ts, completion-request.ts), of either kind,
  // each finish_reason, usage in any form, an error, a logprobs "content" array, content null or absent.
  // The usual shape comes up often (often()), so the fast path is exercised as much as the refusals.
  const choice = fc.record({
    body: often("content", "empty", "null", "none", "text"),
    text: fc.oneof(fc.string(), fc.constantFrom('"finish_reason":"stop"', '"usage":', "", 'a"b', "a\\b\n")),
    finish: often(null, "stop", "length", "", "absent"),
    logprobs: often(false, true),
  });
  const chunk = fc
    .record({
      choices: often(1, 0).chain((n) => fc.array(choice, { minLength: n, maxLength: n })),
      usage: fc.constantFrom("none", "none", "flat", "null"),
      error: often(false, true),
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

  it("answers only for chunks it reads as the full parse does: text, usage, no error, no finish_reason", () => {
    let fast = 0;
    fc.assert(
      fc.property(chunk, (data) => {
        const scanned = scanTextChunk(data, "chat");
        if (scanned === null) return;
        fast++;
        const parsed = parseEngineChunk(data);
        expect(parsed.error).toBeNull();
        expect(parsed.usage).toEqual(scanned.usage);
        expect(parsed.choices).toHaveLength(1);
        expect(parsed.choices[0]?.finishReason ?? null).toBeNull();
        expect(text(scanned)).toBe(parsed.choices[0]?.content);
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
    expect(scanTextChunk(data, "completion")?.literal).toBe("hi");
    expect(parseEngineChunk(data).choices[0]?.content).toBe("hi");
    const short = JSON.stringify({
      ...cmpl,
      choices: [{ index: 0, text: "", logprobs: null, finish_reason: null }],
    });
    expect(scanTextChunk(short, "completion")?.literal).toBe("");
    expect(
      scanTextChunk(JSON.stringify({ ...cmpl, choices: [choice("x", "length")] }), "completion"),
    ).toBeNull();
  });
});

describe("readEngineChunk", () => {
  it("agrees with parseEngineChunk on what a dialect reads of every chunk, and throws where it throws", () => {
    let fast = 0;
    fc.assert(
      fc.property(anyChunk, (data) => {
        const scanned = scanTextChunk(data, "chat");
        let full: ReturnType<typeof parseEngineChunk> | Error;
        try {
          full = parseEngineChunk(data);
        } catch (err) {
          full = err as Error;
        }
        if (scanned?.plain) {
          fast++;
          expect(full).not.toBeInstanceOf(Error);
        }
        const read = () => readEngineChunk(data, new TextChunkScanner("chat"));
        if (full instanceof Error) expect(read).toThrow(full.message);
        else expect(relayView(read())).toEqual(relayView(full));
      }),
      { numRuns: 2000 },
    );
    expect(fast).toBeGreaterThan(100); // the fast path is really taken, not always skipped
  });
});

describe("TextChunkScanner", () => {
  // A stream's chunks: mostly one head (vLLM writes the same id, object, created and model on every chunk), now
  // and then another one, one with an error key, or no head at all; a role chunk, text chunks with and without
  // usage, escapes, key-like texts, a finish_reason, a usage chunk, broken JSON.
  const heads = [
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",',
    '{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"m",',
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"error":{"message":"boom"},"model":"m",',
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","error":null,',
    "{",
    // As long as the first one, an error key in it: only a comparison of every character tells them apart.
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","error":1,"model":"mmm",',
  ];
  const body = fc
    .record({
      text: fc.oneof(fc.string(), fc.constantFrom('"content":"', '"error":', 'a"b', "a\\b", "é ☃", "")),
      role: fc.boolean(),
      finish: often("null", '"stop"'),
      usage: often(
        "",
        ',"usage":{"prompt_tokens":3,"total_tokens":4,"completion_tokens":1}',
        ',"usage":null',
      ),
      cut: often(false, true),
    })
    .map((g) => {
      const role = g.role ? '"role":"assistant",' : "";
      const data =
        `"choices":[{"index":0,"delta":{${role}"content":${JSON.stringify(g.text)}},"logprobs":null,` +
        `"finish_reason":${g.finish}}]${g.usage}}`;
      return g.cut ? data.slice(0, -1) : data;
    });
  const stream = fc.array(fc.tuple(often(0, 1, 2, 3, 4, 5), body), { minLength: 1, maxLength: 12 });

  it("reads every chunk of a stream as scanTextChunk does, or leaves it to the full parse", () => {
    expect(heads[5]?.length).toBe(heads[0]?.length);
    let known = 0;
    fc.assert(
      fc.property(stream, (chunks) => {
        const scanner = new TextChunkScanner("chat");
        let seen: number | null = null;
        for (const [h, rest] of chunks) {
          const data = (heads[h] as string) + rest;
          const scanned = scanner.scan(data);
          const alone = scanTextChunk(data, "chat");
          if (scanned !== null) expect(scanned).toEqual(alone);
          // Once a head has been read, a chunk with that head and the usual frame is read by it, not refused.
          if (alone !== null && seen === h) {
            known++;
            expect(scanned).toEqual(alone);
          }
          if (alone !== null) seen = h;
        }
      }),
      { numRuns: 2000 },
    );
    expect(known).toBeGreaterThan(500); // the known-head path is really taken
  });

  it("never reads a head with an error key, however often it comes", () => {
    const scanner = new TextChunkScanner("chat");
    const text = '"choices":[{"index":0,"delta":{"content":"x"},"logprobs":null,"finish_reason":null}]}';
    expect(scanner.scan(`${heads[0]}${text}`)?.literal).toBe("x");
    for (let i = 0; i < 3; i++) expect(scanner.scan(`${heads[2]}${text}`)).toBeNull();
    expect(scanner.scan(`${heads[0]}${text}`)?.literal).toBe("x");
  });

  it("reads text_completion chunks after their own head", () => {
    const scanner = new TextChunkScanner("completion");
    const chunk = (text: string) =>
      JSON.stringify({
        id: "cmpl-1",
        object: "text_completion",
        created: 1,
        model: "m",
        choices: [{ index: 0, text, logprobs: null, finish_reason: null, stop_reason: null }],
      });
    for (const text of ["a", "b c", "", 'q"uote'])
      expect(scanner.scan(chunk(text))).toEqual(scanTextChunk(chunk(text), "completion"));
    expect(scanner.scan(chunk("d"))?.literal).toBe("d");
  });
});

describe("TextChunkScanner's memory", () => {
  it("keeps the head it remembers, not the engine reads its chunks were cut from", () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const head = '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",';
    const text = '"choices":[{"index":0,"delta":{"content":"x"},"logprobs":null,"finish_reason":null}]}';
    const scanners: TextChunkScanner[] = [];
    gc();
    const before = getHeapStatistics().used_heap_size;
    for (let i = 0; i < 20; i++) {
      // One read of 1 MB holding the chunk, as the SSE parser slices its events out of a read's text.
      const read = `data: ${head}${text}\n\n${"y".repeat(1 << 20)}${i}`;
      const scanner = new TextChunkScanner("chat");
      expect(scanner.scan(read.slice(6, 6 + head.length + text.length))?.literal).toBe("x");
      // The stream's last chunk, from another read, goes to the full parse: the scanner keeps neither read.
      expect(scanner.scan(`${head}${text.replace("null}", '"stop"}')}`)).toBeNull();
      scanners.push(scanner);
    }
    gc();
    // 20 reads of 1 MB would be ≥ 20 MB if the heads kept them.
    expect(getHeapStatistics().used_heap_size - before).toBeLessThan(5_000_000);
    expect(scanners).toHaveLength(20);
  });
});
