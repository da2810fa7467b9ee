import { describe, expect, it } from "vitest";
import { gatewayTestConfig } from "../../gateway/testing/static-supervisor.js";
import { modelHealthPath, modelLabels, staticRunnerEntry } from "./static-entry.js";

describe("the static runners.json entry of several models", () => {
  it("gives each model its own label, in go-livepeer's label alphabet and never twice", () => {
    expect(
      modelLabels("node1", ["meta-llama/Meta-Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct"]),
    ).toEqual(["node1-meta-llama-Meta-Llama-3.1-8B-Instruct", "node1-Qwen-Qwen2.5-7B-Instruct"]);
    // Two ids that read the same once cleaned: the second gets its position.
    expect(modelLabels("n", ["a/b", "a b", "///"])).toEqual(["n-a-b", "n-a-b-1", "n-m2"]);
  });

  it("asks /live-runner about its own model (go-livepeer appends a root-relative health_url as it is)", () => {
    expect(modelHealthPath("Qwen/Qwen2.5-7B-Instruct")).toBe("/live-runner?model=Qwen%2FQwen2.5-7B-Instruct");
    const config = gatewayTestConfig({});
    const options = {
      label: "l",
      runnerUrl: "http://10.0.0.5:8000",
      version: "0.1.0",
      priceUsdPerHour: 2,
      gpu: null,
    };
    expect(staticRunnerEntry(config, options).health_url).toBe("/live-runner");
    expect(staticRunnerEntry(config, { ...options, model: "q" }).health_url).toBe("/live-runner?model=q");
  });
});
