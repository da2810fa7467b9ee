import { readHostEnv } from "../config/host-env.js";
import type { DockerDriver, OwnedContainer } from "../engine/docker-driver.js";
import type { PidFile } from "../engine/engine-pid-files.js";
import { ProcessDriver } from "../engine/process-driver.js";
import { silentLogger } from "../log/logger.js";
import { engineRecordsDir, ownerIdFor, RUNTIME_DIR } from "./engine-home.js";

/** Engines of this home that run or exist: processes from pid files, containers with the home's owner label. */
export interface HomeEngines {
  processes: PidFile[];
  containers: OwnedContainer[];
}

/**
 * Removes engines that a dead runner of this home left behind: processes from pid files, and (when a
 * Docker-API engine is reachable, or the runner used docker) containers with this home's owner label.
 */
export async function removeOrphanEngines(
  home: string,
  env: NodeJS.ProcessEnv,
  driver?: "docker" | "process",
): Promise<string[]> {
  const removed: string[] = [];
  if (driver !== "docker") removed.push(...(await processDriver(home).removeOrphans()));
  if (driver !== "process") {
    try {
      removed.push(...(await (await dockerDriver(home, env)).removeOrphans()));
    } catch (err) {
      // No Docker-API engine here: only an error when the runner was known to use one.
      if (driver === "docker") throw err;
    }
  }
  return removed;
}

/** The engines of this home, touched by nothing (for `check`). Throws when the Docker API is asked and fails. */
export async function findHomeEngines(
  home: string,
  env: NodeJS.ProcessEnv,
  driver: "docker" | "process",
): Promise<HomeEngines> {
  const processes = processDriver(home).findRunning();
  const containers = driver === "docker" ? await (await dockerDriver(home, env)).findOwned() : [];
  return { processes, containers };
}

function processDriver(home: string): ProcessDriver {
  return new ProcessDriver({
    python: "python3",
    runtimeDir: RUNTIME_DIR,
    home,
    port: 0,
    logger: silentLogger(),
  });
}

async function dockerDriver(home: string, env: NodeJS.ProcessEnv): Promise<DockerDriver> {
  // Loaded only here: dockerode is heavy and a process-driver runner never needs it.
  const [{ createDockerClient }, { DockerDriver }] = await Promise.all([
    import("../engine/docker-client.js"),
    import("../engine/docker-driver.js"),
  ]);
  return new DockerDriver({
    docker: createDockerClient(readHostEnv(env).dockerHost),
    image: "unused",
    gpuIds: "all",
    modelDir: null,
    hostPort: 0,
    ownerId: ownerIdFor(home),
    leaseDir: engineRecordsDir(home),
    logger: silentLogger(),
  });
}
