import { describe, expect, it } from "vitest";
import { createGatewayMetrics } from "../../metrics/gateway-metrics.js";
import { processMetricsJson } from "../../metrics/process-metrics.js";
import { mergeWorkerSeries } from "./worker-metrics.js";

interface MetricJson {
  name: string;
  values: Array<{ value: number; labels: Record<string, string | number> }>;
}

/** A worker's metrics JSON, with a metric's first sample set to `value` (workers started apart). */
async function worker(overrides: Record<string, number> = {}): Promise<unknown[]> {
  const own = await createGatewayMetrics().json();
  const proc = structuredClone(await processMetricsJson()) as MetricJson[];
  for (const m of proc) {
    const first = m.values[0];
    if (first && m.name in overrides) first.value = overrides[m.name] as number;
  }
  return [...own, ...proc];
}

function sample(text: string, name: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

describe("mergeWorkerSeries (GATEWAY_WORKERS > 1)", () => {
  it("keeps process_start_time_seconds: the first worker's start", async () => {
    const text = await mergeWorkerSeries([
      await worker({ process_start_time_seconds: 1_700_000_050 }),
      await worker({ process_start_time_seconds: 1_700_000_010 }),
    ]);
    expect(sample(text, "process_start_time_seconds")).toBe(1_700_000_010);
  });

  it("reads process_max_fds as one process's limit, not the workers' sum", async () => {
    const text = await mergeWorkerSeries([
      await worker({ process_max_fds: 1024 }),
      await worker({ process_max_fds: 1024 }),
    ]);
    expect(sample(text, "process_max_fds")).toBe(1024);
  });

  it("still adds up what the workers count (CPU seconds)", async () => {
    const text = await mergeWorkerSeries([
      await worker({ process_cpu_seconds_total: 1.5 }),
      await worker({ process_cpu_seconds_total: 2 }),
    ]);
    expect(sample(text, "process_cpu_seconds_total")).toBe(3.5);
  });
});
