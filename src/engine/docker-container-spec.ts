import { resolve } from "node:path";
import type Docker from "dockerode";
import { LEASE_FILE_ENV, LEASE_TIMEOUT_ENV } from "../protocol/supervisor-watch.js";
import type { EngineStartSpec } from "./engine-driver.js";
import {
  CONTAINER_ENGINE_PORT,
  CONTAINER_MODELS_DIR,
  containerModelPath,
  listenAddress,
} from "./engine-layout.js";
import { CONTAINER_LEASE_PATH } from "./engine-lease.js";

export { containerModelPath };

export const LABEL_MANAGED = "io.llm-runner.managed";
export const LABEL_OWNER = "io.llm-runner.owner";
export const LABEL_INSTANCE = "io.llm-runner.instance";
export const LABEL_MODEL = "io.llm-runner.model";

export interface ContainerSpecInput {
  image: string;
  gpuIds: "all" | number[];
  modelDir: string | null;
  /** The engine runs offline (the model was pulled first): it only reads MODEL_DIR, so it gets it read-only. */
  modelDirReadOnly?: boolean;
  localModelPath?: string | null;
  /** 0 = an ephemeral port chosen by the engine. */
  hostPort: number;
  ownerId: string;
  /** DISTRIBUTED_EXECUTOR=ray: the host's network (Ray and NCCL reach the other nodes), listening on hostPort. */
  hostNetwork?: boolean;
  /** Seconds `docker stop` waits before SIGKILL, whoever stops the container: the engine's drain and its grace. */
  stopTimeoutMs?: number;
  spec: Pick<EngineStartSpec, "instanceId" | "engine" | "env" | "modelId" | "buildArgs">;
  /** The runner's lease (engine-lease.ts): mounted read-only; the engine stops when it goes stale. */
  lease?: { hostPath: string; timeoutS: number } | null;
}

/** Container names allow [a-zA-Z0-9][a-zA-Z0-9_.-]*; anything else in the instance id becomes "-". */
export function containerName(instanceId: string): string {
  return `llm-runner-${instanceId.replace(/[^a-zA-Z0-9_.-]/g, "-")}`;
}

/** The label filter that finds every container this LLM_RUNNER_HOME started. */
export function ownerLabelFilter(ownerId: string): string[] {
  return [`${LABEL_MANAGED}=true`, `${LABEL_OWNER}=${ownerId}`];
}

export function containerCreateOptions(input: ContainerSpecInput): Docker.ContainerCreateOptions {
  const { spec } = input;
  const port = `${CONTAINER_ENGINE_PORT}/tcp`;
  // Mounts, not Binds: a bind string is split at ":", which a folder name may hold (Binds has no escape for it).
  // Sources must be absolute. MODEL_DIR is writable only when vLLM may download into it (not offline).
  const mounts: Docker.MountSettings[] = [];
  if (input.modelDir) {
    mounts.push(bindMount(input.modelDir, CONTAINER_MODELS_DIR, input.modelDirReadOnly === true));
  }
  if (input.localModelPath) {
    mounts.push(bindMount(input.localModelPath, containerModelPath(input.localModelPath), true));
  }
  const env = { ...spec.env };
  if (input.lease) {
    mounts.push(bindMount(input.lease.hostPath, CONTAINER_LEASE_PATH, true));
    env[LEASE_FILE_ENV] = CONTAINER_LEASE_PATH;
    env[LEASE_TIMEOUT_ENV] = String(input.lease.timeoutS);
  }
  return {
    name: containerName(spec.instanceId),
    Image: input.image,
    // The image's ENTRYPOINT is `python3 -m llm_runtime`; these are the `vllm serve` arguments.
    Cmd: spec.buildArgs(
      input.hostNetwork
        ? listenAddress("docker", input.hostPort, true)
        : listenAddress("docker", CONTAINER_ENGINE_PORT),
    ),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: {
      [LABEL_MANAGED]: "true",
      [LABEL_OWNER]: input.ownerId,
      [LABEL_INSTANCE]: spec.instanceId,
      [LABEL_MODEL]: spec.modelId,
    },
    ...(input.hostNetwork ? {} : { ExposedPorts: { [port]: {} } }),
    Tty: false,
    ...(input.stopTimeoutMs === undefined ? {} : { StopTimeout: Math.ceil(input.stopTimeoutMs / 1000) }),
    HostConfig: {
      ...(input.hostNetwork
        ? { NetworkMode: "host" }
        : {
            PortBindings: {
              [port]: [{ HostIp: "127.0.0.1", HostPort: input.hostPort ? String(input.hostPort) : "" }],
            },
          }),
      // vLLM's workers (and Ray's object store) share tensors through /dev/shm: the host's, not the container
      // default of 64 MiB, which is far too small.
      IpcMode: "host",
      SecurityOpt: ["no-new-privileges"],
      // vLLM needs no capability: it listens on a high port, reads world-readable model files, writes only its
      // own (root-owned) caches, and the GPUs are device files the NVIDIA runtime sets up from outside.
      CapDrop: ["ALL"],
      // An init as PID 1 forwards SIGTERM to the engine (PID 1 ignores signals it has no handler for).
      Init: true,
      Mounts: mounts,
      ...(spec.engine === "vllm" ? { DeviceRequests: gpuRequests(input.gpuIds) } : {}),
    },
  };
}

function bindMount(source: string, target: string, readOnly: boolean): Docker.MountSettings {
  return { Type: "bind", Source: resolve(source), Target: target, ReadOnly: readOnly };
}

function gpuRequests(gpuIds: "all" | number[]): Docker.DeviceRequest[] {
  if (gpuIds === "all") return [{ Driver: "nvidia", Count: -1, Capabilities: [["gpu"]] }];
  return [{ Driver: "nvidia", DeviceIDs: gpuIds.map(String), Capabilities: [["gpu"]] }];
}
