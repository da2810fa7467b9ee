import { describe, expect, it } from "vitest";
import { PrefixIndex } from "./prefix-index.js";

const chain = (...hashes: number[]) => new Int32Array(hashes);
const engineA = {};
const engineB = {};

describe("PrefixIndex", () => {
  it("matches the longest run of leading blocks a replica was sent, per replica", () => {
    const index = new PrefixIndex(100);
    index.record(0, engineA, 1, chain(1, 2, 3, 4));
    index.record(1, engineB, 1, chain(1, 2, 9));
    expect(index.match(0, engineA, 1, chain(1, 2, 3, 7))).toBe(3);
    expect(index.match(1, engineB, 1, chain(1, 2, 3, 7))).toBe(2);
    expect(index.match(0, engineA, 1, chain(5, 2, 3))).toBe(0); // a chain: block 2 alone does not count
    expect(index.match(2, engineA, 1, chain(1, 2))).toBe(0);
  });

  it("holds at most `capacity` blocks per replica, and keeps the recent ones", () => {
    const index = new PrefixIndex(10); // two halves of 5
    for (let h = 1; h <= 23; h++) index.record(0, engineA, 1, chain(h));
    expect(index.size(0)).toBeLessThanOrEqual(10);
    // 23 recorded: 21–23 in the newer half, 16–20 in the older; 1–15 dropped.
    expect(index.match(0, engineA, 1, chain(21, 22, 23))).toBe(3);
    expect(index.match(0, engineA, 1, chain(16))).toBe(1);
    expect(index.match(0, engineA, 1, chain(15))).toBe(0);
  });

  it("a block sent again is kept as recent (least recently used goes first)", () => {
    const index = new PrefixIndex(4); // halves of 2
    index.record(0, engineA, 1, chain(1, 2)); // newer {1,2} full: becomes older
    index.record(0, engineA, 1, chain(1)); // refreshed into the newer half
    index.record(0, engineA, 1, chain(3)); // newer {1,3}: older {1,2} dropped
    index.record(0, engineA, 1, chain(4));
    expect(index.match(0, engineA, 1, chain(1))).toBe(1);
    expect(index.match(0, engineA, 1, chain(2))).toBe(0);
  });

  it("a restarted engine (new generation) or a reloaded replica (new supervisor) starts empty", () => {
    const index = new PrefixIndex(100);
    index.record(0, engineA, 1, chain(1, 2, 3));
    expect(index.match(0, engineA, 2, chain(1, 2, 3))).toBe(0);
    expect(index.size(0)).toBe(0);
    index.record(0, engineA, 2, chain(1, 2, 3));
    expect(index.match(0, engineB, 2, chain(1, 2, 3))).toBe(0);
    expect(index.size(0)).toBe(0);
  });

  it("drop() forgets a replica's blocks", () => {
    const index = new PrefixIndex(100);
    index.record(0, engineA, 1, chain(1, 2, 3));
    index.drop(0);
    expect(index.match(0, engineA, 1, chain(1))).toBe(0);
  });
});
