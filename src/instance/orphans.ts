import { readHostEnv } from "../config/host-env.js";
import { ProcessDriver } from "../engine/process-driver.js";
import { silentLogger } from "../log/logger.js";
import { ownerIdFor, RUNTIME_DIR } from "./engine-home.js";

/**
 * Removes engines that a dead runner of this home left behind: processes from pid files, and (when a
 * Docker-API engine is reachable, or the runner used docker) containers with this home's owner label.
 */
export async function removeOrphanEngines(
  home: string,
  env: NodeJS.ProcessEnv,
  driver?: "docker" | "process",
): Promise<string[]> {
  const logger = silentLogger();
  const removed: string[] = [];
  if (driver !== "docker") {
    const proc = new ProcessDriver({ python: "python3", runtimeDir: RUNTIME_DIR, home, port: 0, logger });
    removed.push(...(await proc.removeOrphans()));
  }
  if (driver !== "process") {
    try {
      // Loaded only here: dockerode is heavy and a process-driver runner never needs it.
      const [{ createDockerClient }, { DockerDriver }] = await Promise.all([
        import("../engine/docker-client.js"),
        import("../engine/docker-driver.js"),
      ]);
      const docker = new DockerDriver({
        docker: createDockerClient(readHostEnv(env).dockerHost),
        image: "unused",
        gpuIds: "all",
        modelDir: null,
        hostPort: 0,
        ownerId: ownerIdFor(home),
        logger,
      });
      removed.push(...(await docker.removeOrphans()));
    } catch (err) {
      // No Docker-API engine here: only an error when the runner was known to use one.
      if (driver === "docker") throw err;
    }
  }
  return removed;
}
