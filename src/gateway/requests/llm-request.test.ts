// The /llm body's fast path (no zod) must give exactly what the schema gives, for every body the schema accepts,
// and step aside (null) for every body it refuses, so the schema still words every error.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GatewayError } from "../http/gateway-error.js";
import { fastLlmRequest, llmRequestSchema, parseLlmRequest } from "./llm-request.js";

const anyValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -3, max: 3 }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -3, max: 3 }),
  fc.constantFrom(2 ** 53, 1e300, -0, 0.5, 2, 1, 2.5, 1.5, -0.5, 3, 0),
  fc.string({ maxLength: 4 }),
  fc.constant([]),
  fc.constant({}),
);
/** Mostly valid values (so whole valid bodies are common), sometimes anything. */
const mostly = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: anyValue, weight: 1 });
const message = mostly(
  fc.record({
    role: mostly(fc.constantFrom("system", "user", "assistant")),
    content: mostly(fc.string({ maxLength: 8 })),
    extra: fc.option(fc.string(), { nil: undefined }),
  }),
);
const body = fc.record(
  {
    messages: mostly(fc.array(message, { maxLength: 3 })),
    model: mostly(fc.constantFrom("", "m")),
    temperature: mostly(fc.double({ noNaN: true, min: 0, max: 2 })),
    max_tokens: mostly(fc.integer({ min: 1, max: 100_000 })),
    top_p: mostly(fc.double({ noNaN: true, min: 0, max: 1 })),
    top_k: mostly(fc.constantFrom(-1, 1, 50)),
    stream: mostly(fc.boolean()),
    unknown_field: anyValue,
  },
  { requiredKeys: [] },
);

describe("fastLlmRequest", () => {
  it("equals the schema's result for every body it accepts, and accepts every body the schema accepts", () => {
    let fastHits = 0;
    fc.assert(
      fc.property(body, (b) => {
        const parsed = JSON.parse(JSON.stringify(b)) as Record<string, unknown>; // as a request body arrives
        const fast = fastLlmRequest(parsed);
        const slow = llmRequestSchema.safeParse(parsed);
        if (fast !== null) fastHits++;
        expect(fast !== null).toBe(slow.success);
        if (slow.success) expect(fast).toStrictEqual(slow.data);
      }),
      { numRuns: 3_000 },
    );
    expect(fastHits).toBeGreaterThan(300); // the generator reaches valid bodies too
  });

  it("a typical Livepeer body takes the fast path; a bad one still gets the schema's words", () => {
    const ok = { messages: [{ role: "user", content: "hi" }], max_tokens: 64, stream: true };
    expect(fastLlmRequest(ok)).toEqual({
      messages: [{ role: "user", content: "hi" }],
      model: "",
      temperature: 0.7,
      max_tokens: 64,
      top_p: 1,
      top_k: -1,
      stream: true,
    });
    expect(() => parseLlmRequest({ messages: [{ role: "bot", content: "hi" }], top_k: 0 }, "m")).toThrow(
      GatewayError,
    );
    try {
      parseLlmRequest({ messages: [{ role: "bot", content: "hi" }], top_k: 0 }, "m");
    } catch (err) {
      expect((err as GatewayError).message).toContain(
        'role must be one of system, user, assistant (got "bot")',
      );
      expect((err as GatewayError).message).toContain("top_k must be -1 (off) or at least 1");
    }
    expect(() => parseLlmRequest({ ...ok, model: "other" }, "m")).toThrow(/is not served here/);
  });
});
