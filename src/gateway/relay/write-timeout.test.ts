import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Logger } from "../../log/logger.js";
import { type WaitingWrite, WriteTimeout } from "./write-timeout.js";

function recordingLogger() {
  const warnings: Array<{ obj: unknown; msg?: string }> = [];
  const logger: Logger = {
    trace() {},
    debug() {},
    info() {},
    warn: (obj, msg) => warnings.push({ obj, ...(msg === undefined ? {} : { msg }) }),
    error() {},
    child: () => logger,
  };
  return { logger, warnings };
}

function write(requestId: string) {
  const w: WaitingWrite & { expired: number } = {
    since: 0,
    requestId,
    expired: 0,
    expire() {
      w.expired++;
    },
  };
  return w;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("WriteTimeout (CLIENT_WRITE_TIMEOUT)", () => {
  it("expires a client that takes nothing for the timeout, once, and logs which request it closed", () => {
    const { logger, warnings } = recordingLogger();
    const timeouts = new WriteTimeout(4_000, logger, () => Date.now());
    const w = write("req-1");
    timeouts.wait(w);
    vi.advanceTimersByTime(3_999);
    expect(w.expired).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(w.expired).toBe(1);
    vi.advanceTimersByTime(10_000);
    expect(w.expired).toBe(1);
    expect(warnings).toEqual([
      {
        obj: { requestId: "req-1", timeoutS: 4 },
        msg: "closed a streaming client that read too little in CLIENT_WRITE_TIMEOUT; its engine request was aborted",
      },
    ]);
  });

  it("a client that takes bytes in time (done) is not expired; each new wait gets the whole timeout", () => {
    const timeouts = new WriteTimeout(4_000, recordingLogger().logger, () => Date.now());
    const w = write("req-1");
    for (let i = 0; i < 5; i++) {
      timeouts.wait(w);
      vi.advanceTimersByTime(3_000);
      timeouts.done(w);
    }
    expect(w.expired).toBe(0);
    expect(timeouts.size).toBe(0);
  });

  it("closes each slow client on its own clock", () => {
    const timeouts = new WriteTimeout(2_000, recordingLogger().logger, () => Date.now());
    const a = write("a");
    const b = write("b");
    timeouts.wait(a);
    vi.advanceTimersByTime(1_500);
    timeouts.wait(b);
    vi.advanceTimersByTime(1_000);
    expect([a.expired, b.expired]).toEqual([1, 0]);
    vi.advanceTimersByTime(1_000);
    expect([a.expired, b.expired]).toEqual([1, 1]);
  });

  it("runs its one timer only while some client is behind", () => {
    const timeouts = new WriteTimeout(2_000, recordingLogger().logger, () => Date.now());
    expect(vi.getTimerCount()).toBe(0);
    const a = write("a");
    const b = write("b");
    timeouts.wait(a);
    timeouts.wait(b);
    expect(vi.getTimerCount()).toBe(1);
    timeouts.done(a);
    timeouts.done(b);
    vi.advanceTimersByTime(500);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("0 never closes a client and starts no timer", () => {
    const timeouts = new WriteTimeout(0, recordingLogger().logger, () => Date.now());
    const w = write("a");
    timeouts.wait(w);
    vi.advanceTimersByTime(86_400_000);
    expect(w.expired).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("names the variable and the seconds in the ledger row's error", () => {
    expect(new WriteTimeout(2_500, recordingLogger().logger).reason).toBe(
      "the client read too little of the stream in 2.5 s (CLIENT_WRITE_TIMEOUT): closed",
    );
  });

  it("refuses a negative or non-finite timeout", () => {
    const { logger } = recordingLogger();
    expect(() => new WriteTimeout(-1, logger)).toThrow("must be a number of ms ≥ 0 (got -1)");
    expect(() => new WriteTimeout(Number.NaN, logger)).toThrow("(got NaN)");
  });
});
