import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SseParser, Utf8StreamDecoder } from "./sse-parser.js";

const enc = new TextEncoder();

describe("SseParser", () => {
  it("hands each event on when its last byte arrives, skipping comments", () => {
    const p = new SseParser();
    expect(p.push(enc.encode(': keep-alive\n\ndata: {"a":1}\n\ndata: {"b"'))).toEqual(['{"a":1}']);
    expect(p.push(enc.encode(":2}\r\n"))).toEqual([]);
    expect(p.push(enc.encode("\r\ndata: [DONE]\n\n"))).toEqual(['{"b":2}', "[DONE]"]);
  });

  it("gives the same events however the bytes are split, multi-byte characters included", () => {
    const events = ['{"t":"héllo ✓"}', '{"t":"🙂"}', "[DONE]"];
    const bytes = enc.encode(events.map((e) => `data: ${e}\n\n`).join(""));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 8 }), (cuts) => {
        const points = [0, ...[...new Set(cuts)].sort((a, b) => a - b), bytes.length];
        const p = new SseParser();
        const out: string[] = [];
        for (let i = 1; i < points.length; i++) out.push(...p.push(bytes.subarray(points[i - 1], points[i])));
        out.push(...p.end());
        expect(out).toEqual(events);
      }),
    );
  });
});

const utf8 = (s: string) => [...Buffer.from(s, "utf8")];

// Pieces of a byte stream: SSE text, multi-byte characters, a BOM, and bytes that are not UTF-8 (a lone
// continuation byte, a truncated sequence, an overlong form, an encoded surrogate, a code point past U+10FFFF).
const piece = fc.oneof(
  fc.constantFrom(utf8("data: "), utf8("\n\n"), utf8('{"content":"x"}'), utf8("\n")),
  fc.string({ unit: "grapheme" }).map(utf8),
  fc.constantFrom(utf8("é"), utf8("☃"), utf8("😀"), utf8("\uFEFF"), utf8("\uFFFD")),
  fc.constantFrom(
    [0x80],
    [0xc3],
    [0xe2, 0x98],
    [0xf0, 0x9f, 0x98],
    [0xc0, 0x80],
    [0xed, 0xa0, 0x80],
    [0xf4, 0x90, 0x80, 0x80],
    [0xff],
  ),
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 8 }),
);

/** The stream's bytes cut into reads at random places (empty reads included). */
const reads = fc
  .tuple(fc.array(piece, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }))
  .map(([pieces, cuts]) => {
    const bytes = pieces.flat();
    const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    const out: Uint8Array[] = [];
    let from = 0;
    for (const to of [...at, bytes.length]) {
      out.push(Uint8Array.from(bytes.slice(from, to)));
      from = to;
    }
    return out;
  });

describe("Utf8StreamDecoder", () => {
  it("gives, read by read, what a streaming TextDecoder gives, for any bytes cut anywhere", () => {
    fc.assert(
      fc.property(reads, reads, (chunks, again) => {
        const ours = new Utf8StreamDecoder();
        const reference = new TextDecoder();
        // Two streams one after the other: the end of one starts the next (its BOM dropped again).
        for (const stream of [chunks, again]) {
          for (const chunk of stream) {
            expect(ours.write(chunk)).toBe(reference.decode(chunk, { stream: true }));
          }
          expect(ours.end()).toBe(reference.decode());
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("takes a read of whole characters without the TextDecoder, and keeps a split character for the next read", () => {
    const d = new Utf8StreamDecoder();
    const snowman = Buffer.from("a☃\n");
    expect(d.write(Buffer.from("\uFEFFdata: x\n"))).toBe("data: x\n"); // the stream's BOM is dropped
    expect(d.write(snowman.subarray(0, 2))).toBe("a");
    expect(d.write(snowman.subarray(2))).toBe("☃\n");
    expect(d.write(Buffer.from("\uFEFF\n"))).toBe("\uFEFF\n"); // a BOM later is a character
    expect(d.write(Uint8Array.from([0xe2]))).toBe("");
    expect(d.end()).toBe("\uFFFD");
  });
});
