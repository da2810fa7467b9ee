import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NOOP_REQUEST_TRACE } from "../../telemetry/request-trace.js";
import { OpenAiDialect } from "../dialects/openai-dialect.js";
import type { Exchange } from "../exchange/exchange.js";
import { SseParser } from "./sse-parser.js";
import { type FrameSink, StreamPump } from "./stream-pump.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

function fakeExchange(): Exchange {
  return { progress() {}, tokens() {}, trace: NOOP_REQUEST_TRACE } as unknown as Exchange;
}

const noClient: FrameSink = { failureStatus: 200, attach() {}, write: () => true, end() {}, destroy() {} };

/** A pump fed by hand, read by read (its body is never started). */
function pumpOf(dialect: OpenAiDialect): StreamPump {
  return new StreamPump(fakeExchange(), dialect, noClient, (async function* () {})());
}

function chunk(content: string | null, extra: Record<string, unknown> = {}): string {
  const delta = content === null ? {} : { content };
  return JSON.stringify({
    id: "chatcmpl-1",
    object: "chat.completion.chunk",
    created: 1,
    model: "m",
    choices: [{ index: 0, delta, logprobs: null, finish_reason: null }],
    ...extra,
  });
}

const usageChunk = JSON.stringify({
  id: "chatcmpl-1",
  object: "chat.completion.chunk",
  created: 1,
  model: "m",
  choices: [],
  usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
});

/** The reference: every frame rebuilt from its event. */
function rebuilt(
  parser: SseParser,
  relay: OpenAiDialect,
  bytes: Uint8Array,
  state: { ended: boolean },
): string {
  let out = "";
  if (state.ended) return out;
  for (const data of parser.push(bytes)) {
    if (data === "[DONE]") {
      state.ended = true;
      break;
    }
    const step = relay.onData(data);
    out += step.out ?? `data: ${data}\n\n`;
    if (step.end) {
      state.ended = true;
      break;
    }
  }
  return out;
}

describe("StreamPump.push", () => {
  it("returns the read itself when it is exactly frames that go out unchanged", () => {
    const relay = pumpOf(new OpenAiDialect(100, false));
    const first = enc.encode(
      `data: ${chunk("", { choices: [{ index: 0, delta: { role: "assistant" } }] })}\n\n`,
    );
    expect(relay.push(first)).toBe(first);
    const two = enc.encode(`data: ${chunk("a")}\n\ndata: ${chunk("b")}\n\n`);
    expect(relay.push(two)).toBe(two);
    // The usage chunk the client did not ask for is dropped, so that read is rebuilt.
    const tail = enc.encode(`data: ${chunk("c")}\n\ndata: ${usageChunk}\n\ndata: [DONE]\n\n`);
    expect(relay.push(tail)).toBe(`data: ${chunk("c")}\n\n`);
    expect(relay.ended).toBe("done");
  });

  it("rebuilds a read whose bytes are not clean UTF-8 (the client gets U+FFFD)", () => {
    const relay = pumpOf(new OpenAiDialect(100, false));
    relay.push(enc.encode(`data: ${chunk("")}\n\n`));
    const [head, tail] = `data: ${chunk("XY")}\n\n`.split("XY") as [string, string];
    const bad = new Uint8Array([...enc.encode(head), 0xff, ...enc.encode(tail)]);
    expect(relay.push(bad)).toBe(`data: ${chunk("\uFFFD")}\n\n`);
  });

  it("sends, read by read, the bytes a relay rebuilding every frame would send", () => {
    const text = (s: string) => chunk(s);
    let sentAsRead = 0;
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom("a", "é", "🙂", "", "x y"), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 10 }),
        // Cuts on event boundaries (where whole reads can go out as they came) or anywhere.
        fc.array(fc.tuple(fc.boolean(), fc.nat()), { maxLength: 10 }),
        (contents, wantsUsage, crlf, comment, maxTokens, rawCuts) => {
          const sep = crlf ? "\r\n\r\n" : "\n\n";
          const frames = comment ? [`: keep-alive${sep}`] : [];
          for (const c of contents) frames.push(`data: ${text(c)}${sep}`);
          frames.push(
            `data: ${chunk(null, { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}${sep}`,
          );
          frames.push(`data: ${usageChunk}${sep}`, `data: [DONE]${sep}`);
          const bytes = enc.encode(frames.join(""));
          const boundaries: number[] = [];
          let at = 0;
          for (const f of frames.slice(0, -1)) {
            at += enc.encode(f).length;
            boundaries.push(at);
          }
          const cuts = [
            ...new Set(
              rawCuts.map(([onBoundary, n]) =>
                onBoundary ? (boundaries[n % boundaries.length] as number) : 1 + (n % (bytes.length - 1)),
              ),
            ),
          ].sort((a, b) => a - b);
          const points = [0, ...cuts, bytes.length];
          const relay = pumpOf(new OpenAiDialect(maxTokens, wantsUsage));
          const refParser = new SseParser();
          const refRelay = new OpenAiDialect(maxTokens, wantsUsage);
          const state = { ended: false };
          for (let i = 1; i < points.length; i++) {
            const read = bytes.slice(points[i - 1], points[i]);
            const expected = rebuilt(refParser, refRelay, read, state);
            const out = relay.push(read);
            if (typeof out !== "string") sentAsRead++;
            expect(typeof out === "string" ? out : dec.decode(out)).toBe(expected);
            if (relay.ended !== null) break;
          }
          expect(relay.ended !== null).toBe(state.ended);
        },
      ),
    );
    // The generated splits must reach the fast path, or this test checks nothing about it.
    expect(sentAsRead).toBeGreaterThan(0);
  });
});
