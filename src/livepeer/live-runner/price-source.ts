// The price sent with each heartbeat: LIVE_RUNNER_PRICE_USD_PER_HOUR as set, or with "auto" the price at which a
// generated token costs PRICE_PER_UNIT / PIXELS_PER_UNIT, from the ledger's measured tokens per second
// (pricing/hourly-price.ts), measured again every few minutes.
import type { Logger } from "../../log/logger.js";
import type { HourlyPrice } from "../../pricing/hourly-price.js";
import type { Timers } from "./timers.js";

export const AUTO_PRICE_REFRESH_MS = 5 * 60_000;

export class HourlyPriceSource {
  private value: number | null;
  private timer: unknown = null;

  constructor(
    private readonly setting: number | "auto" | null,
    private readonly measure: () => HourlyPrice | null,
    private readonly timers: Timers,
    private readonly logger: Logger,
  ) {
    this.value = typeof setting === "number" ? setting : null;
  }

  /** Measures once (auto) and says what the price is based on, for the start-up log. */
  start(): string {
    if (this.setting !== "auto") {
      return this.setting === null
        ? "no price is sent (LIVE_RUNNER_PRICE_USD_PER_HOUR is unset): an off-chain orchestrator ignores it, an on-chain one refuses the registration"
        : `price ${this.setting} USD per hour per session slot (LIVE_RUNNER_PRICE_USD_PER_HOUR)`;
    }
    const first = this.refresh();
    const loop = () => {
      this.refresh();
      this.timer = this.timers.setTimeout(loop, AUTO_PRICE_REFRESH_MS);
    };
    this.timer = this.timers.setTimeout(loop, AUTO_PRICE_REFRESH_MS);
    return first === null
      ? "LIVE_RUNNER_PRICE_USD_PER_HOUR=auto: the ledger has no sample of finished requests yet, so no price is sent until it has (measured every 5 minutes); an on-chain orchestrator refuses a registration without one"
      : `LIVE_RUNNER_PRICE_USD_PER_HOUR=auto: ${first.usdPerHour} USD per hour per session slot, from ${first.sample.requests} finished requests at ${first.tokensPerSecond.toFixed(1)} generated tokens per second each`;
  }

  current(): number | null {
    return this.value;
  }

  stop(): void {
    this.timers.clearTimeout(this.timer);
  }

  private refresh(): HourlyPrice | null {
    let priced: HourlyPrice | null = null;
    try {
      priced = this.measure();
    } catch (err) {
      this.logger.warn({ err }, "could not read the ledger for the auto price; keeping the last one");
      return null;
    }
    if (priced !== null && priced.usdPerHour !== this.value) {
      if (this.value !== null)
        this.logger.info(
          { from: this.value, to: priced.usdPerHour },
          "auto price per session slot per hour changed",
        );
      this.value = priced.usdPerHour;
    }
    return priced;
  }
}
