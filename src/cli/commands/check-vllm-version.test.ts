import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { TESTED_VLLM_VERSION, VLLM_VERSION_LABEL } from "../../engine/vllm-version.js";
import { checkImageVllmVersion, vllmVersionResult } from "./check-vllm-version.js";

interface FakeRun {
  labels?: Record<string, string>;
  output?: string;
  status?: number;
  hang?: boolean;
}

/** A dockerode stand-in: an image with labels, and containers that print `output` and exit with `status`. */
function fakeDocker(run: FakeRun) {
  const removed: string[] = [];
  const created: Array<Record<string, unknown>> = [];
  const docker = {
    getImage: () => ({ inspect: async () => ({ Config: { Labels: run.labels ?? {} } }) }),
    createContainer: async (spec: Record<string, unknown>) => {
      created.push(spec);
      return {
        start: async () => undefined,
        wait: () =>
          run.hang ? new Promise(() => undefined) : Promise.resolve({ StatusCode: run.status ?? 0 }),
        logs: async () => Buffer.from(run.output ?? ""),
        remove: async () => {
          removed.push("probe");
        },
      };
    },
  };
  return { docker: docker as unknown as Docker, removed, created };
}

describe("the vLLM version in ENGINE_IMAGE", () => {
  it("reads Dockerfile.gpu's label without running anything", async () => {
    const { docker, created } = fakeDocker({ labels: { [VLLM_VERSION_LABEL]: TESTED_VLLM_VERSION } });
    const r = await checkImageVllmVersion(docker, "localhost/llm-runner-vllm:0.1.0");
    expect(r).toEqual({
      level: "ok",
      name: "vllm-version",
      message: `vLLM ${TESTED_VLLM_VERSION} in ENGINE_IMAGE localhost/llm-runner-vllm:0.1.0 (the tested release)`,
    });
    expect(created).toEqual([]);
  });

  it("asks an unlabelled image (a plain vllm/vllm-openai) and warns when it is another release", async () => {
    const { docker, created, removed } = fakeDocker({ output: "0.29.0+cu129\r\n" });
    const r = await checkImageVllmVersion(docker, "vllm/vllm-openai:v0.29.0");
    expect(r.level).toBe("warn");
    expect(r.message).toBe(
      `vLLM 0.29.0+cu129 in ENGINE_IMAGE vllm/vllm-openai:v0.29.0; llm-runner is tested with vLLM ${TESTED_VLLM_VERSION}`,
    );
    expect(r.fix).toContain("npm run engine:gpu-image");
    expect(created[0]).toMatchObject({ Image: "vllm/vllm-openai:v0.29.0", NetworkDisabled: true });
    expect(removed).toEqual(["probe"]);
  });

  it("says so when the image has no vLLM or does not answer, and removes the probe", async () => {
    const none = fakeDocker({ output: "ModuleNotFoundError: No module named 'vllm'", status: 1 });
    const r = await checkImageVllmVersion(none.docker, "localhost/llm-runner-sim:latest");
    expect(r.level).toBe("warn");
    expect(r.message).toContain(
      "could not read the vLLM version in ENGINE_IMAGE localhost/llm-runner-sim:latest",
    );
    expect(r.message).toContain("No module named 'vllm'");
    expect(none.removed).toEqual(["probe"]);
    const hung = fakeDocker({ hang: true });
    const h = await checkImageVllmVersion(hung.docker, "x/y:1", 50);
    expect(h.message).toContain("no answer within 0.05 s");
    expect(hung.removed).toEqual(["probe"]);
  });

  it("judges the process driver's vllm the same way", () => {
    expect(vllmVersionResult(TESTED_VLLM_VERSION, "the vllm on PATH").level).toBe("ok");
    expect(vllmVersionResult("0.10.1.1", "the vllm on PATH")).toMatchObject({
      level: "warn",
      message: `vLLM 0.10.1.1 in the vllm on PATH; llm-runner is tested with vLLM ${TESTED_VLLM_VERSION}`,
    });
  });
});
