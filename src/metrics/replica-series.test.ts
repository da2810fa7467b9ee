import { describe, expect, it } from "vitest";
import { mergeReplicaSeries, withReplicaLabel } from "./replica-series.js";

const ENGINE = (
  running: number,
  tokens: number,
) => `# HELP vllm:num_requests_running Number of requests running.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="m"} ${running}
# HELP vllm:generation_tokens_total Generation tokens.
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{model_name="m"} ${tokens}
`;

describe("replica series", () => {
  it("adds the replica label to samples with and without labels", () => {
    expect(withReplicaLabel('vllm:x{a="b"} 1', 2)).toBe('vllm:x{replica="2",a="b"} 1');
    expect(withReplicaLabel("vllm:x 1", 0)).toBe('vllm:x{replica="0"} 1');
    expect(withReplicaLabel("vllm:x{} 1", 1)).toBe('vllm:x{replica="1"} 1');
  });

  it("writes each family's HELP/TYPE once, with every replica's samples under it", () => {
    const text = mergeReplicaSeries([
      { replica: 0, text: ENGINE(3, 100) },
      { replica: 1, text: ENGINE(5, 250) },
    ]);
    expect(text.split("\n")).toEqual([
      "# HELP vllm:num_requests_running Number of requests running.",
      "# TYPE vllm:num_requests_running gauge",
      'vllm:num_requests_running{replica="0",model_name="m"} 3',
      'vllm:num_requests_running{replica="1",model_name="m"} 5',
      "# HELP vllm:generation_tokens_total Generation tokens.",
      "# TYPE vllm:generation_tokens_total counter",
      'vllm:generation_tokens_total{replica="0",model_name="m"} 100',
      'vllm:generation_tokens_total{replica="1",model_name="m"} 250',
      "",
    ]);
    expect(mergeReplicaSeries([])).toBe("");
  });
});
