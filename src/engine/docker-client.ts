import { existsSync } from "node:fs";
import Docker from "dockerode";

/** The two sockets we look for when DOCKER_HOST is unset: Docker's, then the one scripts/podman-setup.sh serves. */
export const DEFAULT_DOCKER_SOCKETS = ["/var/run/docker.sock", "/run/podman/podman.sock"] as const;

export class DockerHostError extends Error {
  override readonly name = "DockerHostError";
}

/**
 * Turns a DOCKER_HOST value into dockerode connection options. Supported: unix:///path, tcp://host:port
 * (plain HTTP; use an SSH tunnel or the unix socket for remote engines) and ssh://user@host.
 * Unset or empty: the first of DEFAULT_DOCKER_SOCKETS that exists.
 */
export function dockerConnectionOptions(
  dockerHost: string | undefined,
  exists: (path: string) => boolean = existsSync,
): Docker.DockerOptions {
  const value = dockerHost?.trim() ?? "";
  if (value === "") {
    const socketPath = DEFAULT_DOCKER_SOCKETS.find((p) => exists(p)) ?? DEFAULT_DOCKER_SOCKETS[0];
    return { socketPath };
  }
  if (value.startsWith("unix://")) {
    const socketPath = value.slice("unix://".length);
    if (!socketPath.startsWith("/")) {
      throw new DockerHostError(
        `DOCKER_HOST=${value} has no absolute socket path; write it as unix:///run/podman/podman.sock`,
      );
    }
    return { socketPath };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new DockerHostError(
      `DOCKER_HOST=${value} is not a URL; use unix:///path/to.sock, tcp://host:port or ssh://user@host`,
    );
  }
  if (url.protocol === "tcp:" || url.protocol === "http:") {
    if (!url.hostname || !url.port) {
      throw new DockerHostError(`DOCKER_HOST=${value} needs a host and a port, e.g. tcp://127.0.0.1:2375`);
    }
    return { protocol: "http", host: url.hostname, port: Number(url.port) };
  }
  if (url.protocol === "ssh:") {
    return {
      protocol: "ssh",
      host: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    };
  }
  throw new DockerHostError(
    `DOCKER_HOST=${value} uses an unsupported scheme "${url.protocol}"; use unix://, tcp:// or ssh://`,
  );
}

/** The Dockerode client for DOCKER_HOST (pass the value read with the rest of the config), or the default socket. */
export function createDockerClient(dockerHost: string | undefined): Docker {
  return new Docker(dockerConnectionOptions(dockerHost));
}
