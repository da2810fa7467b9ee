import { describe, expect, it } from "vitest";
import { renderProcessMetrics } from "./process-metrics.js";

describe("renderProcessMetrics", () => {
  it("includes the event-loop lag, CPU, RSS and heap of this process", async () => {
    const text = await renderProcessMetrics();
    for (const name of [
      "nodejs_eventloop_lag_seconds",
      "nodejs_eventloop_lag_p99_seconds",
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_heap_size_used_bytes",
    ]) {
      expect(text).toMatch(new RegExp(`^${name} [0-9.e+-]+$`, "m"));
    }
  });
});
