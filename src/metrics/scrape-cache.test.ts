import { describe, expect, it } from "vitest";
import { ScrapeCache } from "./scrape-cache.js";

describe("ScrapeCache", () => {
  it("loads once per key within the TTL, shares a load under way, and loads again after", async () => {
    let now = 0;
    let loads = 0;
    const cache = new ScrapeCache(2_000, () => now);
    const load = async () => `text ${++loads}`;
    const [a, b] = await Promise.all([cache.get("e1", load), cache.get("e1", load)]);
    expect([a, b, loads]).toEqual(["text 1", "text 1", 1]);
    now = 1_999;
    expect(await cache.get("e1", load)).toBe("text 1");
    expect(await cache.get("e2", load)).toBe("text 2"); // another engine (replica, generation) has its own
    now = 2_000;
    expect(await cache.get("e1", load)).toBe("text 3");
  });

  it("keeps a failed load as no series for the TTL, so a dying engine is not asked on every scrape", async () => {
    let calls = 0;
    const cache = new ScrapeCache(2_000, () => 0);
    const failing = async () => {
      calls++;
      throw new Error("engine gone");
    };
    expect(await cache.get("e1", failing)).toBe("");
    expect(await cache.get("e1", failing)).toBe("");
    expect(calls).toBe(1);
  });
});
