// REPLICAS on an 8 × H100 node (test/fixtures/gpu/8xh100-query-gpu.csv) with TENSOR_PARALLEL_SIZE=2 and
// REPLICAS=auto: four engine containers, each asking Docker for its own two GPUs, on its own host port.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/load-config.js";
import { replicaConfig, replicaSlotsOf } from "../config/replica-plan.js";
import { gpuProbeFor } from "../gpu/probe-from-env.js";
import { containerCreateOptions } from "./docker-container-spec.js";
import { buildVllmArgs, engineEnv } from "./vllm-args.js";

const REPO = path.resolve(import.meta.dirname, "../..");
const EIGHT_H100 = path.join(REPO, "test/fixtures/gpu/8xh100-query-gpu.csv");

async function load(env: Record<string, string>) {
  const full = { HOME: "/home/operator", LLM_RUNNER_FAKE_GPUS: EIGHT_H100, ...env };
  return loadConfig({ env: full, gpuProbe: gpuProbeFor(full.LLM_RUNNER_FAKE_GPUS), cwd: REPO });
}

describe("docker container specs per replica", () => {
  it("TP=2, REPLICAS=auto on 8 × H100: 4 containers with DeviceIDs 0,1 | 2,3 | 4,5 | 6,7 and ports 8100..8103", async () => {
    const loaded = await load({ TENSOR_PARALLEL_SIZE: "2", REPLICAS: "auto", MODEL_DIR: "/srv/models" });
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    const specs = replicaSlotsOf(loaded.config).map((slot) => {
      const own = replicaConfig(loaded.config, slot);
      return containerCreateOptions({
        image: own.engineImage,
        gpuIds: own.gpuIds,
        modelDir: own.modelDir,
        hostPort: own.enginePort,
        ownerId: "owner-1",
        spec: {
          instanceId: `abc-r${slot.index}`,
          engine: own.engine,
          env: engineEnv(own, "docker", "k"),
          modelId: own.modelId,
          buildArgs: (listen) => buildVllmArgs(own, "docker", listen),
        },
      });
    });
    expect(specs.map((s) => s.name)).toEqual([0, 1, 2, 3].map((i) => `llm-runner-abc-r${i}`));
    expect(specs.map((s) => s.HostConfig?.DeviceRequests)).toEqual(
      [
        ["0", "1"],
        ["2", "3"],
        ["4", "5"],
        ["6", "7"],
      ].map((ids) => [{ Driver: "nvidia", DeviceIDs: ids, Capabilities: [["gpu"]] }]),
    );
    expect(specs.map((s) => s.HostConfig?.PortBindings?.["8000/tcp"]?.[0]?.HostPort)).toEqual([
      "8100",
      "8101",
      "8102",
      "8103",
    ]);
    for (const s of specs) {
      // Docker renumbers the granted GPUs from 0 inside: CUDA_VISIBLE_DEVICES must not be set there.
      expect(s.Env?.some((e) => e.startsWith("CUDA_VISIBLE_DEVICES="))).toBe(false);
      expect(s.Cmd?.[s.Cmd.indexOf("--tensor-parallel-size") + 1]).toBe("2");
    }
  });

  it("REPLICAS=5 with TP=2 on 8 GPUs: refused before anything starts, naming what fits", async () => {
    const loaded = await load({ TENSOR_PARALLEL_SIZE: "2", REPLICAS: "5" });
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    const issue = loaded.issues.find((i) => i.variable === "REPLICAS");
    expect(issue?.message).toContain("= 10 GPUs, but the engines get 8");
    expect(issue?.message).toContain("Set REPLICAS=4");
  });
});
