import { describe, expect, it } from "vitest";
import { gatewayTestConfig } from "../gateway/testing/static-supervisor.js";
import { aiModelsEntry, runnerUrl } from "./ai-models-entry.js";

describe("aiModelsEntry", () => {
  it("describes the runner with go-livepeer's AIModelConfig field names", () => {
    const config = gatewayTestConfig({ host: "0.0.0.0", port: 8000, authToken: "tok", maxNumSeqs: 64 });
    expect(aiModelsEntry(config)).toEqual({
      pipeline: "llm",
      model_id: "test-model",
      url: "http://127.0.0.1:8000",
      token: "tok",
      capacity: 64,
      price_per_unit: config.pricePerUnit,
      pixels_per_unit: config.pixelsPerUnit,
      currency: config.currency,
      warm: true,
    });
  });

  it("says warm: false for a model that is not loaded now (a swap group's sleeper)", () => {
    const config = gatewayTestConfig({});
    expect(aiModelsEntry(config, { warm: false }).warm).toBe(false);
    expect(aiModelsEntry(config, {}).warm).toBe(true);
  });

  it("leaves the token out without AUTH_TOKEN, and takes a given url, token and price", () => {
    const config = gatewayTestConfig({ authToken: null });
    expect(aiModelsEntry(config)).not.toHaveProperty("token");
    expect(
      aiModelsEntry(config, { url: "http://gpu-1:8000", token: "***", pricePerUnit: 0.02 }),
    ).toMatchObject({
      url: "http://gpu-1:8000",
      token: "***",
      price_per_unit: 0.02,
    });
  });

  it("keeps a concrete HOST and brackets IPv6", () => {
    expect(runnerUrl({ host: "10.0.0.5", port: 9000 })).toBe("http://10.0.0.5:9000");
    expect(runnerUrl({ host: "::", port: 8000 })).toBe("http://127.0.0.1:8000");
    expect(runnerUrl({ host: "fd00::1", port: 8000 })).toBe("http://[fd00::1]:8000");
  });

  it("capacity follows the replicas: MAX_NUM_SEQS per engine", () => {
    const slots = [0, 1, 2].map((index) => ({ index, gpuIds: [index], enginePort: 8100 + index }));
    const config = gatewayTestConfig({ maxNumSeqs: 64, replicaSlots: slots });
    expect(aiModelsEntry(config).capacity).toBe(192);
  });
});
