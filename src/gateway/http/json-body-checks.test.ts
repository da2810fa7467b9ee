import { describe, expect, it } from "vitest";
import { GatewayError } from "./gateway-error.js";
import { assertCleanJson, assertJsonDepth, decodeUtf8Strict } from "./json-body-checks.js";

/** The 400 assertCleanJson throws for a body given as JSON text, or null when it accepts it. */
function rejection(text: string): GatewayError | null {
  try {
    assertCleanJson(JSON.parse(text));
    return null;
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
}

describe("assertCleanJson", () => {
  it("accepts ordinary bodies, surrogate pairs (emoji), and NUL inside text", () => {
    expect(
      rejection('{"model":"m","messages":[{"role":"user","content":"hi \\ud83d\\ude00 😀"}]}'),
    ).toBeNull();
    expect(rejection('{"messages":[{"role":"user","content":"a\\u0000b\\n"}],"temperature":0.7}')).toBeNull();
    expect(rejection(`{"seed":${Number.MAX_SAFE_INTEGER},"x":-1e-300}`)).toBeNull();
  });

  it("refuses a lone surrogate anywhere, naming the field", () => {
    const cases: Array<[string, string, string | null]> = [
      ['{"model":"\\u0000\\ud800"}', "model", "model"],
      ['{"messages":[{"role":"user","content":"x\\udc00"}]}', "messages[0].content", "messages"],
      ['{"stop":["ok","\\ud83d"]}', "stop[1]", "stop"],
      ['{"a":{"b":"\\udfff tail"}}', "a.b", "a"],
    ];
    for (const [text, where, param] of cases) {
      const err = rejection(text);
      expect(err?.status, text).toBe(400);
      expect(err?.message, text).toContain(`${where} is not well-formed Unicode`);
      expect(err?.param, text).toBe(param);
    }
    expect(rejection('{"messages":[{"\\ud800":"x"}]}')?.message).toMatch(/messages\[0\] has a key/);
  });

  it("refuses NUL and control characters in names, not in text", () => {
    for (const text of [
      '{"model":"m\\u0000"}',
      '{"messages":[{"role":"user\\u0000","content":"x"}]}',
      '{"messages":[{"role":"user","name":"bob\\n","content":"x"}]}',
    ]) {
      const err = rejection(text);
      expect(err?.status, text).toBe(400);
      expect(err?.message, text).toMatch(/must not contain control characters \(found U\+00(00|0A)\)/);
    }
  });

  it("refuses numbers that cannot be passed on exactly", () => {
    expect(rejection('{"max_tokens":1e400}')?.message).toMatch(/max_tokens is a number too large/);
    expect(rejection('{"logit_bias":{"5":-1e999}}')?.message).toMatch(/logit_bias\.5 is a number too large/);
    expect(rejection('{"seed":18446744073709551615}')?.message).toMatch(/seed is out of range/);
    expect(rejection('{"messages":[{"content":[1e20]}]}')?.param).toBe("messages");
  });

  it("walks a deep body without recursion", () => {
    const deep = `${'{"a":'.repeat(5_000)}"\\ud800"${"}".repeat(5_000)}`;
    expect(rejection(deep)?.status).toBe(400);
  });
});

describe("the body text checks", () => {
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
