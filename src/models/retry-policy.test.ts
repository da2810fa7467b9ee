// The retry policy follows huggingface_hub's _http_backoff_base (utils/_http.py): max_retries=5,
// base_wait_time=1, max_wait_time=8, doubling; a 429's RateLimit reset or a Retry-After, plus 1 s. Retry-After
// as an HTTP date is RFC 9110 §10.2.3's other form.
import { describe, expect, it } from "vitest";
import { nextStep, PULL_RETRY, RETRY_STATUSES, serverWaitMs } from "./retry-policy.js";

const NOW = Date.parse("2026-03-01T12:00:00Z");
const headers = (h: Record<string, string>) => (name: string) => h[name] ?? null;

describe("the retry policy", () => {
  it("retries 408, 429 and 500/502/503/504 only", () => {
    expect([...RETRY_STATUSES].sort()).toEqual([408, 429, 500, 502, 503, 504]);
  });

  it("waits 1, 2, 4, 8, 8 s between tries and gives up at the sixth failure in a row", () => {
    const waits = [1, 2, 3, 4, 5].map((n) => nextStep(PULL_RETRY, n, null));
    expect(waits).toEqual(
      [1000, 2000, 4000, 8000, 8000].map((waitMs) => ({ retry: true, waitMs, asked: false })),
    );
    expect(nextStep(PULL_RETRY, 6, null)).toEqual({ retry: false, why: "tries" });
    expect(nextStep(PULL_RETRY, 6, 1000)).toEqual({ retry: false, why: "tries" });
  });

  it("waits what Retry-After asks in seconds, plus 1 s", () => {
    const asked = serverWaitMs(503, headers({ "retry-after": " 7 " }), NOW);
    expect(asked).toBe(7000);
    expect(nextStep(PULL_RETRY, 1, asked)).toEqual({ retry: true, waitMs: 8000, asked: true });
  });

  it("reads Retry-After as an HTTP date against the clock (a past date means now)", () => {
    expect(serverWaitMs(429, headers({ "retry-after": "Sun, 01 Mar 2026 12:00:30 GMT" }), NOW)).toBe(30_000);
    expect(serverWaitMs(429, headers({ "retry-after": "Sun, 01 Mar 2026 11:59:00 GMT" }), NOW)).toBe(0);
    expect(nextStep(PULL_RETRY, 1, 0)).toEqual({ retry: true, waitMs: 1000, asked: true });
  });

  it("takes a 429's RateLimit reset when no requests remain, before Retry-After", () => {
    const h = { ratelimit: '"api";r=0;t=55', "retry-after": "3" };
    expect(serverWaitMs(429, headers(h), NOW)).toBe(55_000);
    expect(serverWaitMs(429, headers({ ...h, ratelimit: '"api";r=4;t=55' }), NOW)).toBe(3000);
    expect(serverWaitMs(503, headers(h), NOW)).toBe(3000);
  });

  it("ignores a Retry-After that is neither seconds nor a date, and backs off instead", () => {
    for (const v of ["soon", "-3", "1.5", "", "12abc"])
      expect(serverWaitMs(503, headers({ "retry-after": v }), NOW), v).toBeNull();
    expect(serverWaitMs(503, headers({}), NOW)).toBeNull();
  });

  it("does not sit out a wait longer than 5 minutes", () => {
    expect(nextStep(PULL_RETRY, 1, 300_000)).toEqual({ retry: true, waitMs: 301_000, asked: true });
    expect(nextStep(PULL_RETRY, 1, 300_001)).toEqual({ retry: false, why: "wait", askedMs: 300_001 });
  });
});
