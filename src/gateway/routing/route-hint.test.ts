import type { Context } from "hono";
import { describe, expect, it } from "vitest";
import { hashesPrompts, routeHint } from "./route-hint.js";

const ctx = (headers: Record<string, string> = {}) =>
  ({ req: { header: (name: string) => headers[name.toLowerCase()] } }) as unknown as Context;

describe("routeHint", () => {
  it("X-Session-Affinity is the affinity key", () => {
    expect(routeHint(ctx({ "x-session-affinity": " chat-42 " }), undefined)).toEqual({
      affinity: "header:chat-42",
    });
  });

  it("a persistent Live Runner session is the key, before any header", () => {
    const hint = routeHint(ctx({ "x-session-affinity": "chat-42" }), { id: "s1", sticky: true });
    expect(hint.affinity).toBe("session:s1");
  });

  it("a single-shot session is no key; without a header there is none", () => {
    expect(routeHint(ctx(), { id: "s1", sticky: false })).toEqual({});
  });

  it("a long header is cut to 256 characters; the blocks ride along when there are some", () => {
    const hint = routeHint(
      ctx({ "x-session-affinity": "k".repeat(1000) }),
      undefined,
      new Int32Array([1, 2]),
    );
    expect(hint.affinity).toHaveLength("header:".length + 256);
    expect([...(hint.blocks ?? [])]).toEqual([1, 2]);
    expect(routeHint(ctx(), undefined, new Int32Array(0)).blocks).toBeUndefined();
  });

  it("prompts are hashed only for the prefix policy with more than one engine", () => {
    expect(hashesPrompts("prefix", 2)).toBe(true);
    expect(hashesPrompts("prefix", 1)).toBe(false);
    expect(hashesPrompts("least-in-flight", 4)).toBe(false);
  });
});
