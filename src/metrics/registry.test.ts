import { describe, expect, it } from "vitest";
import { vllmSeriesOnly } from "./engine-metrics.js";
import { Counter, Histogram, Registry } from "./registry.js";

describe("Registry", () => {
  it("renders counters and cumulative histogram buckets in Prometheus text", () => {
    const r = new Registry();
    const c = r.add(new Counter("x_total", "Xs.", ["route"]));
    const h = r.add(new Histogram("lat_seconds", "Latency.", ["route"], [0.1, 1]));
    c.inc(["/llm"]);
    c.inc(["/llm"], 2);
    c.inc(['a"b\\c']);
    h.observe(["/llm"], 0.05);
    h.observe(["/llm"], 0.5);
    h.observe(["/llm"], 5);
    expect(r.render()).toBe(
      [
        "# HELP x_total Xs.",
        "# TYPE x_total counter",
        'x_total{route="/llm"} 3',
        'x_total{route="a\\"b\\\\c"} 1',
        "# HELP lat_seconds Latency.",
        "# TYPE lat_seconds histogram",
        'lat_seconds_bucket{route="/llm",le="0.1"} 1',
        'lat_seconds_bucket{route="/llm",le="1"} 2',
        'lat_seconds_bucket{route="/llm",le="+Inf"} 3',
        'lat_seconds_sum{route="/llm"} 5.55',
        'lat_seconds_count{route="/llm"} 3',
        "",
      ].join("\n"),
    );
  });

  it("refuses label values that do not match the label names", () => {
    const c = new Counter("x_total", "Xs.", ["a", "b"]);
    expect(() => c.inc(["only-one"])).toThrow(/takes labels \(a, b\)/);
  });
});

describe("vllmSeriesOnly", () => {
  it("keeps vllm:* samples and their HELP/TYPE lines only", () => {
    const text =
      '# HELP python_info x\npython_info 1\n# HELP vllm:a A\n# TYPE vllm:a gauge\nvllm:a{model_name="m"} 2\n';
    expect(vllmSeriesOnly(text)).toBe('# HELP vllm:a A\n# TYPE vllm:a gauge\nvllm:a{model_name="m"} 2\n');
  });
});
