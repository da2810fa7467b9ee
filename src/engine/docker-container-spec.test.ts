import { describe, expect, it } from "vitest";
import type { ContainerSpecInput } from "./docker-container-spec.js";
import { containerCreateOptions, containerModelPath, containerName } from "./docker-container-spec.js";

function input(
  overrides: Partial<ContainerSpecInput> = {},
  engine: "vllm" | "sim" = "vllm",
): ContainerSpecInput {
  return {
    image: "vllm/vllm-openai:v0.10.1",
    gpuIds: "all",
    modelDir: "/srv/models",
    hostPort: 0,
    ownerId: "owner-1",
    spec: {
      instanceId: "abc123",
      engine,
      env: { VLLM_API_KEY: "k", HF_TOKEN: "hf_x" },
      modelId: "meta-llama/Meta-Llama-3.1-8B-Instruct",
      buildArgs: (listen) => [
        "meta-llama/Meta-Llama-3.1-8B-Instruct",
        "--host",
        listen.host,
        "--port",
        String(listen.port),
      ],
    },
    ...overrides,
  };
}

describe("containerCreateOptions", () => {
  it("runs the engine on 0.0.0.0:8000 inside, published on 127.0.0.1 only, with our labels", () => {
    const o = containerCreateOptions(input());
    expect(o.name).toBe("llm-runner-abc123");
    expect(o.Cmd).toEqual(["meta-llama/Meta-Llama-3.1-8B-Instruct", "--host", "0.0.0.0", "--port", "8000"]);
    expect(o.Env).toEqual(["VLLM_API_KEY=k", "HF_TOKEN=hf_x"]);
    expect(o.Labels).toEqual({
      "io.llm-runner.managed": "true",
      "io.llm-runner.owner": "owner-1",
      "io.llm-runner.instance": "abc123",
      "io.llm-runner.model": "meta-llama/Meta-Llama-3.1-8B-Instruct",
    });
    expect(o.ExposedPorts).toEqual({ "8000/tcp": {} });
    expect(o.HostConfig?.PortBindings).toEqual({ "8000/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] });
    expect(o.HostConfig?.IpcMode).toBe("host");
    expect(o.HostConfig?.SecurityOpt).toEqual(["no-new-privileges"]);
  });

  it("gives `docker stop`, whoever sends it, the engine's drain and its grace before SIGKILL", () => {
    expect(containerCreateOptions(input({ stopTimeoutMs: 40_000 })).StopTimeout).toBe(40);
    expect(containerCreateOptions(input({ stopTimeoutMs: 2_500 })).StopTimeout).toBe(3);
    expect(containerCreateOptions(input()).StopTimeout).toBeUndefined();
  });

  it("mounts the runner's lease read-only and tells the runtime where it is and its timeout", () => {
    const o = containerCreateOptions(input({ lease: { hostPath: "/home/r/engines/x.lease", timeoutS: 10 } }));
    expect(o.HostConfig?.Mounts).toContainEqual({
      Type: "bind",
      Source: "/home/r/engines/x.lease",
      Target: "/run/llm-runner/lease",
      ReadOnly: true,
    });
    expect(o.Env).toEqual([
      "VLLM_API_KEY=k",
      "HF_TOKEN=hf_x",
      "LLM_RUNTIME_LEASE_FILE=/run/llm-runner/lease",
      "LLM_RUNTIME_LEASE_TIMEOUT=10",
    ]);
    expect(containerCreateOptions(input()).Env?.some((e) => e.startsWith("LLM_RUNTIME_LEASE"))).toBe(false);
  });

  it("publishes a fixed host port when one is asked for", () => {
    const o = containerCreateOptions(input({ hostPort: 8100 }));
    expect(o.HostConfig?.PortBindings).toEqual({ "8000/tcp": [{ HostIp: "127.0.0.1", HostPort: "8100" }] });
  });

  it("asks for every GPU with Count -1, or exactly the listed ones", () => {
    expect(containerCreateOptions(input()).HostConfig?.DeviceRequests).toEqual([
      { Driver: "nvidia", Count: -1, Capabilities: [["gpu"]] },
    ]);
    expect(containerCreateOptions(input({ gpuIds: [0, 2] })).HostConfig?.DeviceRequests).toEqual([
      { Driver: "nvidia", DeviceIDs: ["0", "2"], Capabilities: [["gpu"]] },
    ]);
  });

  it("asks for no GPU for the simulator", () => {
    expect(containerCreateOptions(input({}, "sim")).HostConfig?.DeviceRequests).toBeUndefined();
  });

  it("mounts MODEL_DIR read-write at /models and a local model folder read-only beneath it", () => {
    const o = containerCreateOptions(input({ localModelPath: "/data/llama-8b/" }));
    expect(o.HostConfig?.Mounts).toEqual([
      { Type: "bind", Source: "/srv/models", Target: "/models", ReadOnly: false },
      { Type: "bind", Source: "/data/llama-8b", Target: "/models/llama-8b", ReadOnly: true },
    ]);
    expect(o.HostConfig?.Binds).toBeUndefined();
    expect(containerModelPath("/data/llama-8b/")).toBe("/models/llama-8b");
  });

  it("mounts MODEL_DIR read-only when the engine runs offline (the model was pulled first)", () => {
    const o = containerCreateOptions(input({ modelDirReadOnly: true }));
    expect(o.HostConfig?.Mounts).toEqual([
      { Type: "bind", Source: "/srv/models", Target: "/models", ReadOnly: true },
    ]);
  });

  it("passes a folder with ':' in its name as it is (a bind string would split there)", () => {
    const o = containerCreateOptions(input({ modelDir: "/srv/a:b/models:ro", localModelPath: "/data/x:y" }));
    expect(o.HostConfig?.Mounts?.map((m) => [m.Source, m.Target])).toEqual([
      ["/srv/a:b/models:ro", "/models"],
      ["/data/x:y", "/models/x:y"],
    ]);
  });

  it("turns relative folders into absolute mount sources", () => {
    const mounts = containerCreateOptions(input({ modelDir: "models" })).HostConfig?.Mounts ?? [];
    expect(mounts[0]?.Source).toMatch(/^\/.+\/models$/);
  });

  it("mounts nothing without MODEL_DIR", () => {
    expect(containerCreateOptions(input({ modelDir: null })).HostConfig?.Mounts).toEqual([]);
  });

  it("drops every capability (vLLM needs none) and keeps no-new-privileges", () => {
    for (const engine of ["vllm", "sim"] as const) {
      const o = containerCreateOptions(input({}, engine));
      expect(o.HostConfig?.CapDrop).toEqual(["ALL"]);
      expect(o.HostConfig?.CapAdd).toBeUndefined();
      expect(o.HostConfig?.SecurityOpt).toEqual(["no-new-privileges"]);
    }
  });
});

describe("containerName", () => {
  it("keeps only the characters container names allow", () => {
    expect(containerName("run:1/2 x")).toBe("llm-runner-run-1-2-x");
  });
});
