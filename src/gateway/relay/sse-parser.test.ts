import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SseParser } from "./sse-parser.js";

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
