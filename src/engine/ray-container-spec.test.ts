// DISTRIBUTED_EXECUTOR=ray: one engine over a Ray cluster the operator started. On an 8 × H100 head node with
// TP=8, PP=2 (16 GPUs over two nodes): the argv asks vLLM for its Ray executor, the engine container runs on the
// host's network with the host's /dev/shm and RAY_ADDRESS, and the GPU count is a note, not an error.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/load-config.js";
import { gpuProbeFor } from "../gpu/probe-from-env.js";
import { containerCreateOptions } from "./docker-container-spec.js";
import { buildVllmArgs, engineEnv } from "./vllm-args.js";

const REPO = path.resolve(import.meta.dirname, "../..");
const EIGHT_H100 = path.join(REPO, "test/fixtures/gpu/8xh100-query-gpu.csv");

async function load(env: Record<string, string>) {
  const full = { HOME: "/home/operator", LLM_RUNNER_FAKE_GPUS: EIGHT_H100, ...env };
  return loadConfig({ env: full, gpuProbe: gpuProbeFor(full.LLM_RUNNER_FAKE_GPUS), cwd: REPO });
}

const RAY = {
  DISTRIBUTED_EXECUTOR: "ray",
  RAY_ADDRESS: "10.0.0.1:6379",
  TENSOR_PARALLEL_SIZE: "8",
  PIPELINE_PARALLEL_SIZE: "2",
};

describe("DISTRIBUTED_EXECUTOR=ray", () => {
  it("TP × PP past the local GPUs is a note; argv, env and container spec for the Ray cluster", async () => {
    const loaded = await load({ ...RAY, MODEL_DIR: "/srv/models" });
    expect(loaded.ok).toBe(true);
    if (!loaded.ok) return;
    expect(loaded.warnings.join("\n")).toContain("the Ray cluster at RAY_ADDRESS must provide the rest");
    const config = loaded.config;
    const env = engineEnv(config, "docker", "k");
    expect(env.RAY_ADDRESS).toBe("10.0.0.1:6379");
    const spec = containerCreateOptions({
      image: config.engineImage,
      gpuIds: config.gpuIds,
      modelDir: config.modelDir,
      hostPort: config.enginePort,
      hostNetwork: true,
      ownerId: "owner-1",
      spec: {
        instanceId: "abc",
        engine: config.engine,
        env,
        modelId: config.modelId,
        buildArgs: (listen) => buildVllmArgs(config, "docker", listen),
      },
    });
    const cmd = spec.Cmd ?? [];
    expect(
      cmd.slice(
        cmd.indexOf("--distributed-executor-backend"),
        cmd.indexOf("--distributed-executor-backend") + 2,
      ),
    ).toEqual(["--distributed-executor-backend", "ray"]);
    // On the host's network the engine listens on loopback at ENGINE_PORT: nothing is published.
    expect(cmd.slice(cmd.indexOf("--host"), cmd.indexOf("--host") + 4)).toEqual([
      "--host",
      "127.0.0.1",
      "--port",
      "8100",
    ]);
    expect(spec.HostConfig?.NetworkMode).toBe("host");
    expect(spec.HostConfig?.PortBindings).toBeUndefined();
    expect(spec.ExposedPorts).toBeUndefined();
    expect(spec.HostConfig?.IpcMode).toBe("host");
    expect(spec.Env).toContain("RAY_ADDRESS=10.0.0.1:6379");
  });

  it("without RAY_ADDRESS, with REPLICAS > 1, or with ENGINE_PORT=0 in a container: refused with the fix", async () => {
    const loaded = await load({ ...RAY, RAY_ADDRESS: "", REPLICAS: "2", ENGINE_PORT: "0" });
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    const byVar = Object.fromEntries(loaded.issues.map((i) => [i.variable, i.message]));
    expect(byVar.RAY_ADDRESS).toContain("is empty");
    expect(byVar.REPLICAS).toContain("one engine over the whole Ray cluster");
    expect(byVar.ENGINE_PORT).toContain("host's network");
    const noAddress = await load({ DISTRIBUTED_EXECUTOR: "ray" });
    expect(!noAddress.ok && noAddress.issues.map((i) => i.message).join()).toContain("ray start --head");
  });

  it("without DISTRIBUTED_EXECUTOR the argv has no executor flag", async () => {
    const loaded = await load({ RAY_ADDRESS: "10.0.0.1:6379" });
    expect(
      loaded.ok && buildVllmArgs(loaded.config, "process", { host: "127.0.0.1", port: 1 }),
    ).not.toContain("--distributed-executor-backend");
  });
});
