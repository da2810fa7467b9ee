import { describe, expect, it } from "vitest";
import { silentLogger } from "../../log/logger.js";
import type { HourlyPrice } from "../../pricing/hourly-price.js";
import { FakeClock } from "../../supervisor/clock.js";
import { AUTO_PRICE_REFRESH_MS, HourlyPriceSource } from "./price-source.js";

const priced = (usdPerHour: number): HourlyPrice => ({
  usdPerHour,
  tokensPerSecond: 30,
  sample: { requests: 12, completionTokens: 3_600, seconds: 120 },
});

describe("the Live Runner price", () => {
  it("a set price is sent as it is; none is sent when unset", () => {
    const clock = new FakeClock(0);
    const set = new HourlyPriceSource(2.5, () => priced(9), clock, silentLogger());
    expect(set.start()).toContain("price 2.5 USD per hour");
    expect(set.current()).toBe(2.5);
    const unset = new HourlyPriceSource(null, () => priced(9), clock, silentLogger());
    expect(unset.start()).toContain("no price is sent");
    expect(unset.current()).toBeNull();
  });

  it('"auto" measures at start and again every 5 minutes, keeping the last price when a measure fails', async () => {
    const clock = new FakeClock(0);
    let next: HourlyPrice | null | Error = null;
    const source = new HourlyPriceSource(
      "auto",
      () => {
        if (next instanceof Error) throw next;
        return next;
      },
      clock,
      silentLogger(),
    );
    expect(source.start()).toContain("no sample of finished requests yet");
    expect(source.current()).toBeNull();
    next = priced(0.0086);
    await clock.advance(AUTO_PRICE_REFRESH_MS);
    expect(source.current()).toBe(0.0086);
    next = new Error("SQLITE_BUSY");
    await clock.advance(AUTO_PRICE_REFRESH_MS);
    expect(source.current()).toBe(0.0086);
    source.stop();
    expect(clock.pendingTimers()).toBe(0);
  });
});
