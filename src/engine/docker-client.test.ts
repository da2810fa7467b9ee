import { describe, expect, it } from "vitest";
import { DockerHostError, dockerConnectionOptions } from "./docker-client.js";

describe("dockerConnectionOptions", () => {
  it("uses Docker's socket when DOCKER_HOST is unset and it exists", () => {
    expect(dockerConnectionOptions(undefined, () => true)).toEqual({ socketPath: "/var/run/docker.sock" });
  });

  it("falls back to the Podman socket when only that one exists", () => {
    const exists = (p: string) => p === "/run/podman/podman.sock";
    expect(dockerConnectionOptions("", exists)).toEqual({ socketPath: "/run/podman/podman.sock" });
  });

  it("names Docker's socket when neither exists, so the error names the usual place", () => {
    expect(dockerConnectionOptions(undefined, () => false)).toEqual({ socketPath: "/var/run/docker.sock" });
  });

  it("reads unix, tcp and ssh URLs", () => {
    expect(dockerConnectionOptions("unix:///run/podman/podman.sock")).toEqual({
      socketPath: "/run/podman/podman.sock",
    });
    expect(dockerConnectionOptions("tcp://127.0.0.1:2375")).toEqual({
      protocol: "http",
      host: "127.0.0.1",
      port: 2375,
    });
    expect(dockerConnectionOptions("ssh://ops@gpu-1:2222")).toEqual({
      protocol: "ssh",
      host: "gpu-1",
      port: 2222,
      username: "ops",
    });
  });

  it.each([
    ["unix://relative.sock", /absolute socket path/],
    ["not a url", /is not a URL/],
    ["tcp://127.0.0.1", /needs a host and a port/],
    ["npipe:////./pipe/docker_engine", /unsupported scheme "npipe:"/],
  ])("rejects DOCKER_HOST=%s with the reason", (value, message) => {
    expect(() => dockerConnectionOptions(value)).toThrow(DockerHostError);
    expect(() => dockerConnectionOptions(value)).toThrow(message);
  });
});
