// Helpers for end-to-end tests against a real Docker-API engine (Podman here: scripts/podman-setup.sh).
import type Docker from "dockerode";
import { createDockerClient } from "../../src/engine/docker-client.js";
import { ownerLabelFilter } from "../../src/engine/docker-container-spec.js";

// LLM_RUNNER_SIM_IMAGE: the tag scripts/build-sim-image.sh built (several checkouts on one machine use their own).
export const SIM_IMAGE = process.env.LLM_RUNNER_SIM_IMAGE ?? "localhost/llm-runner-sim:latest";

/** A client for DOCKER_HOST (or the default socket), as the CLI creates it. */
export function dockerFromEnv(): Docker {
  return createDockerClient(process.env.DOCKER_HOST);
}

/**
 * Fails (never skips) with the command to run when the engine or the sim image is missing: CI runs
 * scripts/podman-setup.sh and scripts/build-sim-image.sh before the tests.
 */
export async function requireDockerAndImage(docker: Docker, image = SIM_IMAGE): Promise<void> {
  try {
    await docker.ping();
  } catch (err) {
    throw new Error(
      `No Docker API at DOCKER_HOST=${process.env.DOCKER_HOST ?? "(unset)"} (${String(err)}). ` +
        "Run `npm run engine:podman` and `export DOCKER_HOST=unix:///run/podman/podman.sock` first.",
    );
  }
  try {
    await docker.getImage(image).inspect();
  } catch {
    throw new Error(`The image ${image} is missing. Build it with \`npm run engine:sim-image\`.`);
  }
}

/** The containers (running or not) labelled with this owner id. */
export async function listOwnedContainers(docker: Docker, ownerId: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: ownerLabelFilter(ownerId) } });
}

/** Force-removes every container of this owner (test cleanup); returns how many there were. */
export async function removeOwnedContainers(docker: Docker, ownerId: string): Promise<number> {
  const found = await listOwnedContainers(docker, ownerId);
  await Promise.all(
    found.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {}),
    ),
  );
  return found.length;
}

/** Runs a command in a running container and returns its stdout (Docker API exec, works on Podman too). */
export async function execStdout(container: Docker.Container, cmd: string[]): Promise<string> {
  const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out: Buffer[] = [];
  const { PassThrough } = await import("node:stream");
  const stdout = new PassThrough();
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  container.modem.demuxStream(stream, stdout, new PassThrough().resume());
  await new Promise<void>((resolve, reject) => {
    stream.once("end", resolve);
    stream.once("close", resolve);
    stream.once("error", reject);
  });
  return Buffer.concat(out).toString("utf8");
}
