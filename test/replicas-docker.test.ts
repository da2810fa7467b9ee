// REPLICAS=3 over the docker driver (Podman, the simulator image): three engine containers of this runner, each
// its own name and port, requests spread over them, and nothing left behind after stop.
import type Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ownerIdFor } from "../src/instance/engine-home.js";
import { assertBuilt } from "./helpers/cli.js";
import {
  dockerFromEnv,
  listOwnedContainers,
  removeOwnedContainers,
  requireDockerAndImage,
} from "./helpers/docker.js";
import { call, chatBody, startRunner, stopAllRunners, streamProblem, words } from "./helpers/load.js";

let docker: Docker;
const owners: string[] = [];

beforeAll(async () => {
  assertBuilt();
  docker = dockerFromEnv();
  await requireDockerAndImage(docker);
});
afterEach(async () => {
  await stopAllRunners();
});
afterAll(async () => {
  for (const owner of owners) await removeOwnedContainers(docker, owner);
});

describe("REPLICAS=3 (simulator image, docker driver)", () => {
  it("runs three engine containers, spreads streams over them, and removes them on stop", {
    timeout: 180_000,
  }, async () => {
    const runner = await startRunner({
      DRIVER: "docker",
      REPLICAS: "3",
      SIM_ITL_MS: "50",
      ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
    });
    const owner = ownerIdFor(runner.home);
    owners.push(owner);
    const containers = await listOwnedContainers(docker, owner);
    expect(containers.filter((c) => c.State === "running")).toHaveLength(3);
    expect(new Set(containers.map((c) => c.Names[0])).size).toBe(3);
    const status = await runner.status();
    const replicas = status.replicas as Array<{ state: string; engineId: string }>;
    expect(replicas.map((r) => r.state)).toEqual(["ready", "ready", "ready"]);
    expect(new Set(replicas.map((r) => r.engineId)).size).toBe(3);

    // 30 streams of ~4 s; while they run, each container's replica holds about a third of them.
    const pending = Array.from({ length: 30 }, (_, i) =>
      call(runner.url, "/v1/chat/completions", chatBody("/v1/chat/completions", words(80, i), 90, true), {
        timeoutMs: 60_000,
      }),
    );
    let peak: number[] = [];
    for (let i = 0; i < 40 && peak.reduce((a, b) => a + b, 0) < 30; i++) {
      await new Promise((r) => setTimeout(r, 250));
      const now = (await runner.status()).replicas as Array<{ inFlight: number }>;
      peak = now.map((r) => r.inFlight);
    }
    console.log(`docker replicas: in flight ${peak.join(" / ")}`);
    for (const n of peak) expect(n).toBeGreaterThanOrEqual(5);
    const results = await Promise.all(pending);
    expect(results.map((r) => streamProblem("/v1/chat/completions", r)).filter((p) => p !== null)).toEqual(
      [],
    );
    const metrics = await (await fetch(`${runner.url}/metrics`)).text();
    expect(metrics).toMatch(/llm_runner_replica_state\{replica="2",state="ready"\} 1/);

    await runner.stop();
    expect(await listOwnedContainers(docker, owner)).toEqual([]);
  });
});
