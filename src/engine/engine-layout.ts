// Where an engine listens and where it sees its files, per driver: the one owner of the container's port and
// paths. The process driver runs the engine on the host (127.0.0.1, the files where they are); the docker driver
// runs it on 0.0.0.0:8000 inside its container, published on 127.0.0.1 only, with MODEL_DIR and a local model
// folder mounted under /models.
import { basename, resolve } from "node:path";
import type { ListenAddress } from "./engine-driver.js";

/** The engine's port inside its container. */
export const CONTAINER_ENGINE_PORT = 8000;
/** Where MODEL_DIR appears inside the container; a local model folder is mounted below it. */
export const CONTAINER_MODELS_DIR = "/models";

export type DriverKind = "process" | "docker";

/**
 * Where the engine listens: `port` is the host port for the process driver (0: the driver picks a free one), and
 * for a container on the host's network (DISTRIBUTED_EXECUTOR=ray), which listens on loopback like a process.
 */
export function listenAddress(driver: DriverKind, port: number, hostNetwork = false): ListenAddress {
  return driver === "process" || hostNetwork
    ? { host: "127.0.0.1", port }
    : { host: "0.0.0.0", port: CONTAINER_ENGINE_PORT };
}

/** The path a local model folder has inside the container. */
export function containerModelPath(localModelPath: string): string {
  return `${CONTAINER_MODELS_DIR}/${basename(resolve(localModelPath))}`;
}
