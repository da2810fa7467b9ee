import type Docker from "dockerode";
import { EngineStartError } from "./engine-driver.js";

/** The HTTP status dockerode attaches to a failed API call, or null for a connection error. */
export function errorStatus(err: unknown): number | null {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === "number" ? status : null;
}

/** Where this client connects, as a DOCKER_HOST-style string (for messages). */
export function dockerEndpoint(docker: Docker): string {
  const modem = docker.modem as { socketPath?: unknown; host?: unknown; port?: unknown; protocol?: unknown };
  if (typeof modem.socketPath === "string") return `unix://${modem.socketPath}`;
  return `${modem.protocol === "ssh" ? "ssh" : "tcp"}://${String(modem.host)}:${String(modem.port ?? "")}`;
}

/** An EngineStartError for a Docker API call that failed without an HTTP answer we expected. */
export function dockerUnreachableError(docker: Docker, err: unknown): EngineStartError {
  const message = err instanceof Error ? err.message : String(err);
  const endpoint = dockerEndpoint(docker);
  if (errorStatus(err) === null) {
    return new EngineStartError(
      `Cannot reach the Docker API at ${endpoint}: ${message}`,
      "Start Docker, or on a machine without it run `npm run engine:podman` and set DOCKER_HOST to the socket it prints; or use DRIVER=process.",
      { cause: err },
    );
  }
  return new EngineStartError(`The Docker API at ${endpoint} answered with an error: ${message}`, undefined, {
    cause: err,
  });
}
