import { describe, expect, it } from "vitest";
import { assertJsonDepth, decodeUtf8Strict } from "./json-guards.js";

describe("json guards", () => {
  it("decodes UTF-8 (dropping a BOM) and refuses invalid bytes with a 400", () => {
    expect(decodeUtf8Strict(Buffer.from('{"a":"héllo"}'))).toBe('{"a":"héllo"}');
    expect(decodeUtf8Strict(Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]))).toBe("{}");
    for (const bad of [[0x7b, 0xff, 0x7d], [0xc3], [0xed, 0xa0, 0x80]]) {
      expect(() => decodeUtf8Strict(Buffer.from(bad))).toThrow(/not valid UTF-8/);
    }
  });

  it("allows 64 levels, refuses 65, and ignores brackets inside strings", () => {
    expect(() => assertJsonDepth(`${"[".repeat(64)}${"]".repeat(64)}`)).not.toThrow();
    expect(() => assertJsonDepth(`${"[".repeat(65)}${"]".repeat(65)}`)).toThrow(/more than 64 levels/);
    expect(() => assertJsonDepth(JSON.stringify({ s: "[".repeat(1000) }))).not.toThrow();
    expect(() => assertJsonDepth(JSON.stringify({ s: '\\"[[[[' }), 2)).not.toThrow();
    expect(() => assertJsonDepth('{"a":{"b":{"c":1}}}', 2)).toThrow();
  });
});
