import { describe, expect, it } from "vitest";
import { vllmSeriesOnly } from "./engine-metrics.js";

describe("vllmSeriesOnly", () => {
  it("keeps vllm:* samples and their HELP/TYPE lines only", () => {
    const text =
      '# HELP python_info x\npython_info 1\n# HELP vllm:a A\n# TYPE vllm:a gauge\nvllm:a{model_name="m"} 2\n';
    expect(vllmSeriesOnly(text)).toBe('# HELP vllm:a A\n# TYPE vllm:a gauge\nvllm:a{model_name="m"} 2\n');
  });
});
