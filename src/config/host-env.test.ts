import { describe, expect, it } from "vitest";
import { readHostEnv } from "./host-env.js";

describe("readHostEnv", () => {
  it("reads the machine's variables, blank as unset", () => {
    expect(
      readHostEnv({ DOCKER_HOST: " unix:///run/podman/podman.sock ", LLM_RUNNER_DETACHED: "1" }),
    ).toEqual({ dockerHost: "unix:///run/podman/podman.sock", detached: true, fakeGpusFile: undefined });
    expect(readHostEnv({ DOCKER_HOST: "  ", LLM_RUNNER_FAKE_GPUS: "gpus.csv" })).toEqual({
      dockerHost: undefined,
      detached: false,
      fakeGpusFile: "gpus.csv",
    });
  });
});
