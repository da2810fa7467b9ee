import { describe, expect, it } from "vitest";
import { PullTracker } from "./pull-tracker.js";

describe("PullTracker", () => {
  it("follows a pull: bytes of the total, rate, ETA, the file being fetched", () => {
    let now = 0;
    const t = new PullTracker(() => now);
    expect(t.planned).toBe(false);
    t.onEvent({ type: "plan", files: [], totalBytes: 3_000_000, toFetch: 2_000_000, free: 1e12 });
    t.onEvent({ type: "file", index: 1, count: 2, path: "a", size: 1_000_000, resumeFrom: 0 });
    now = 1_000;
    t.onEvent({ type: "bytes", n: 500_000 });
    expect(t.fraction()).toBe(0.25);
    expect(t.summary()).toBe("25% (500 kB of 2.0 MB, 500 kB/s, ETA 3s, file 1 of 2)");
    t.onEvent({ type: "file-done", index: 1, count: 2, path: "a" });
    t.onEvent({ type: "file", index: 2, count: 2, path: "b", size: 1_000_000, resumeFrom: 0 });
    now = 2_000;
    t.onEvent({ type: "bytes", n: 1_500_000 });
    expect(t.summary()).toBe("100% (2.0 MB of 2.0 MB, 1.0 MB/s, ETA 0s, file 2 of 2)");
    expect(t.inFlight).toEqual(["b"]);
  });

  it("nothing to fetch counts as done; the ETA is unknown before any byte", () => {
    const t = new PullTracker(() => 0);
    t.onEvent({ type: "plan", files: [], totalBytes: 10, toFetch: 0, free: 1e12 });
    expect(t.fraction()).toBe(1);
    expect(t.eta()).toBeNull();
  });
});
