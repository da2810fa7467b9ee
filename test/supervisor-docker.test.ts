// The supervisor over the docker driver, against the real Podman engine and the simulator image: the crash →
// restart cycle must work with containers too (a dead container keeps its name until it is removed).
import { randomUUID } from "node:crypto";
import type Docker from "dockerode";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerDriver } from "../src/engine/docker-driver.js";
import type { EngineDriver, ListenAddress } from "../src/engine/engine-driver.js";
import { silentLogger } from "../src/log/logger.js";
import { systemClock } from "../src/supervisor/clock.js";
import { httpEngineProbe } from "../src/supervisor/engine-probe.js";
import { Supervisor } from "../src/supervisor/supervisor.js";
import {
  dockerFromEnv,
  listOwnedContainers,
  removeOwnedContainers,
  requireDockerAndImage,
  SIM_IMAGE,
} from "./helpers/docker.js";

const OWNER = `test-supervisor-docker-${randomUUID().slice(0, 8)}`;
let docker: Docker;

beforeAll(async () => {
  docker = dockerFromEnv();
  await requireDockerAndImage(docker, SIM_IMAGE);
});
afterAll(async () => {
  if (docker) await removeOwnedContainers(docker, OWNER);
});

describe("Supervisor + DockerDriver + simulator image", () => {
  it("restarts a container killed from outside as a crash, and leaves nothing behind on stop", async () => {
    const containers = new DockerDriver({
      docker,
      image: SIM_IMAGE,
      gpuIds: "all",
      modelDir: null,
      hostPort: 0,
      ownerId: OWNER,
      logger: silentLogger(),
    });
    // The exit reported 2 s late, as when the Docker API is slow under load: the liveness poll (every 500 ms) sees
    // the dead port first, every time.
    const driver: EngineDriver = {
      kind: "docker",
      removeOrphans: () => containers.removeOrphans(),
      async start(spec) {
        const h = await containers.start(spec);
        const exited = h.exited.then(async (exit) => {
          await new Promise((r) => setTimeout(r, 2_000));
          return exit;
        });
        return { id: h.id, baseUrl: h.baseUrl, exited, stop: (ms) => h.stop(ms), running: () => h.running() };
      },
    };
    const sup = new Supervisor(
      {
        instanceId: `sd-${randomUUID().slice(0, 6)}`,
        engine: "sim",
        modelId: "sim/model",
        buildArgs: (l: ListenAddress) => [
          "sim/model",
          "--served-model-name",
          "sim/model",
          "--host",
          l.host,
          "--port",
          String(l.port),
        ],
        env: {},
        stallTimeoutMs: 30_000,
        hangTimeoutMs: 10_000,
        drainTimeoutMs: 5_000,
        stopGraceMs: 5_000,
        readinessPollMs: 100,
        livenessIntervalMs: 500,
        restart: { initialDelayMs: 200, maxDelayMs: 1_000 },
      },
      { driver, clock: systemClock, logger: silentLogger(), probe: httpEngineProbe },
    );
    try {
      await sup.start();
      const first = await sup.waitFor(["ready"], 60_000);
      const killedAt = Date.now();
      await docker.getContainer(String(first.engineId)).kill({ signal: "SIGKILL" });
      await sup.waitFor(["restarting"], 10_000);
      const again = await sup.waitFor(["ready", "failed"], 60_000);
      // /health failed first; the supervisor asked the container, and reports its exit (supervisor.ts watchDown).
      expect(again.lastError).toMatchObject({
        reason: "crash",
        message: "the engine exited unexpectedly (exit code 137)",
      });
      expect(again.state).toBe("ready");
      expect(again.engineId).not.toBe(first.engineId);
      console.log(`docker: container kill → ready again in ${Date.now() - killedAt} ms`);

      const ticket = sup.admit();
      expect(ticket).not.toBeNull();
      const res = await request(`${ticket?.endpoint.baseUrl}/v1/models`, {
        headers: { authorization: `Bearer ${ticket?.endpoint.apiKey}` },
      });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
      ticket?.end();
      // Only the live engine's container is left: the dead one was removed before the restart.
      expect((await listOwnedContainers(docker, OWNER)).map((c) => c.Id)).toEqual([again.engineId]);
    } finally {
      await sup.stop();
    }
    expect(await listOwnedContainers(docker, OWNER)).toEqual([]);
  });
});
