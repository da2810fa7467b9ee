// A runner killed with -9 under load leaves no engine holding its GPUs: each engine notices within seconds that
// its supervisor is gone and stops (runtime/llm_runtime/supervisor_watch.py: the parent pid for the process
// driver, the lease file for the docker driver, src/engine/engine-lease.ts). Engines that could not notice (here:
// frozen) are named by `check` with the fix, and `stop` removes them.
import type Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LEASE_RENEW_MS, LEASE_TIMEOUT_S } from "../src/engine/engine-lease.js";
import { isAlive, waitForExit } from "../src/engine/process-group.js";
import { ownerIdFor } from "../src/instance/engine-home.js";
import { assertBuilt, runCli, waitFor } from "./helpers/cli.js";
import {
  dockerFromEnv,
  listOwnedContainers,
  removeOwnedContainers,
  requireDockerAndImage,
  SIM_IMAGE,
} from "./helpers/docker.js";
import {
  call,
  chatBody,
  pidFileEngines,
  type Route,
  type Runner,
  startRunner,
  stopAllRunners,
  words,
} from "./helpers/load.js";

const ROUTES: Route[] = ["/llm", "/v1/chat/completions"];

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllRunners();
});

/** Streams from `clients` loops until stop() is called; resolves with how many got a 200. */
function traffic(runner: Runner, clients: number) {
  let stopped = false;
  let answered = 0;
  const done = Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; !stopped; i++) {
        const route = ROUTES[(c + i) % 2] as Route;
        const r = await call(runner.url, route, chatBody(route, words(12, c + i), 20, true), {
          timeoutMs: 10_000,
        });
        if (r.status === 200) answered++;
      }
    }),
  );
  return {
    answered: () => answered,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/** Kills the runner with SIGKILL once `load` has had answers, and returns when it is gone. */
async function killUnderLoad(runner: Runner, load: ReturnType<typeof traffic>): Promise<number> {
  await waitFor(() => load.answered() >= 40 || null, 30_000, "traffic through the runner");
  process.kill(runner.pid, "SIGKILL");
  const killedAt = Date.now();
  expect(await waitForExit(runner.pid, 5_000)).toBe(true);
  await load.stop();
  return killedAt;
}

describe("kill -9 of the runner: its engines stop themselves", () => {
  it("REPLICAS=2, process driver, under traffic: both engine processes are gone within 5 s", {
    timeout: 90_000,
  }, async () => {
    const runner = await startRunner({ REPLICAS: "2", SIM_ITL_MS: "10", LOG_LEVEL: "warn" });
    const engines = pidFileEngines(runner.home);
    expect(engines).toHaveLength(2);
    const killedAt = await killUnderLoad(runner, traffic(runner, 16));
    const left = () => engines.filter(isAlive);
    await waitFor(() => left().length === 0 || null, 5_000, `the engines ${left().join(", ")} to exit`);
    console.log(`process driver: both engines gone ${Date.now() - killedAt} ms after the kill`);
  });

  it("check names engines that a killed runner left running, with the fix; stop removes them", {
    timeout: 90_000,
  }, async () => {
    const runner = await startRunner({ REPLICAS: "2", LOG_LEVEL: "warn" });
    const engines = pidFileEngines(runner.home).sort((a, b) => a - b);
    expect(engines).toHaveLength(2);
    // A frozen engine cannot notice that its runner is gone: the case `check` is there for.
    for (const pid of engines) process.kill(pid, "SIGSTOP");
    process.kill(runner.pid, "SIGKILL");
    expect(await waitForExit(runner.pid, 5_000)).toBe(true);

    const found = await runCli(["check"], runner.env);
    expect(found.code, found.stdout + found.stderr).toBe(0); // a warning: start would remove them first
    const line = found.stdout.split("\n").find((l) => l.includes("left behind")) ?? "";
    expect(line).toMatch(/^! 2 engine\(s\) left behind by a runner of this home that is gone: process \d+ /);
    for (const pid of engines) expect(line).toContain(`process ${pid} (`);
    expect(found.stdout).toContain("    fix: llm-runner stop removes them (start does too, first)\n");

    const stopped = await runCli(["stop"], runner.env);
    expect(stopped.stderr).toContain("removed 2 orphaned engine(s)");
    for (const pid of engines) expect(await waitForExit(pid, 5_000)).toBe(true);
    const clean = await runCli(["check"], runner.env);
    expect(clean.stdout).toContain("✔ no engine left behind by a runner of this home");
  });
});

describe("kill -9 of the runner: docker driver (Podman, simulator image)", () => {
  let docker: Docker;
  const owners: string[] = [];
  beforeAll(async () => {
    docker = dockerFromEnv();
    await requireDockerAndImage(docker);
  });
  afterAll(async () => {
    for (const owner of owners) await removeOwnedContainers(docker, owner);
  });

  it("REPLICAS=2, under traffic: both containers stop once the runner's lease is stale, and check names them", {
    timeout: 150_000,
  }, async () => {
    const runner = await startRunner({
      DRIVER: "docker",
      ENGINE_IMAGE: SIM_IMAGE,
      REPLICAS: "2",
      SIM_ITL_MS: "10",
      LOG_LEVEL: "warn",
      ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
    });
    const owner = ownerIdFor(runner.home);
    owners.push(owner);
    const running = async () =>
      (await listOwnedContainers(docker, owner)).filter((c) => c.State === "running").length;
    expect(await running()).toBe(2);
    const killedAt = await killUnderLoad(runner, traffic(runner, 16));
    await waitFor(
      async () => (await running()) === 0 || null,
      (LEASE_TIMEOUT_S + 10) * 1000,
      "the containers to stop",
    );
    const after = Date.now() - killedAt;
    console.log(`docker driver: both containers stopped ${after} ms after the kill`);
    // Not before the lease's timeout (a slow runner is not taken for dead); its last renewal came up to
    // LEASE_RENEW_MS before the kill.
    expect(after).toBeGreaterThanOrEqual(LEASE_TIMEOUT_S * 1000 - LEASE_RENEW_MS);

    // Stopped containers are left for `stop` (or the next start) to remove; check names them.
    const found = await runCli(["check"], runner.env);
    expect(found.stdout).toMatch(/^! 2 engine\(s\) left behind .*container llm-runner-\S+ \(exited\)/m);
    expect((await runCli(["stop"], runner.env)).stderr).toContain("removed 2 orphaned engine(s)");
    expect(await listOwnedContainers(docker, owner)).toEqual([]);
  });
});
