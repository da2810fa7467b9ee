import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  compareWithTested,
  TESTED_VLLM_VERSION,
  VLLM_BASE_IMAGE,
  VLLM_VERSION_LABEL,
  vllmVersionFromLabels,
} from "./vllm-version.js";

const REPO = path.resolve(import.meta.dirname, "../..");
const read = (file: string) => readFileSync(path.join(REPO, file), "utf8");

describe("the tested vLLM version is one constant", () => {
  it("is Dockerfile.gpu's default base image and the label it sets", () => {
    const dockerfile = read("Dockerfile.gpu");
    expect(dockerfile).toContain(`ARG VLLM_VERSION=${TESTED_VLLM_VERSION}\n`);
    expect(dockerfile).toMatch(/^FROM vllm\/vllm-openai:v\$\{VLLM_VERSION\}$/m);
    expect(dockerfile).toContain(`LABEL ${VLLM_VERSION_LABEL}=\${VLLM_VERSION}`);
    expect(dockerfile).not.toMatch(/vllm-openai:v\d/);
  });

  it("is the release the simulator imitates (its /version)", () => {
    expect(read("runtime/llm_runtime/__init__.py")).toContain(`\nVLLM_VERSION = "${TESTED_VLLM_VERSION}"\n`);
  });

  it("is the one the README and the runtime README name", () => {
    for (const file of ["README.md", "runtime/README.md"]) {
      expect(read(file), file).toContain(VLLM_BASE_IMAGE);
      const others = [...read(file).matchAll(/vllm-openai:v(\d+\.\d+\.\d+)/g)].map((m) => m[1]);
      expect(new Set(others), file).toEqual(new Set([TESTED_VLLM_VERSION]));
    }
  });
});

describe("reading and comparing vLLM versions", () => {
  it("reads our label first, then common ones", () => {
    expect(vllmVersionFromLabels({ [VLLM_VERSION_LABEL]: "0.31.0" })).toBe("0.31.0");
    expect(vllmVersionFromLabels({ "vllm.version": "0.29.0_cu129" })).toBe("0.29.0_cu129");
    expect(vllmVersionFromLabels({ "vllm.version": "v0.30.0" })).toBe("0.30.0");
    expect(vllmVersionFromLabels({ "org.opencontainers.image.version": "24.04" })).toBeNull();
    expect(vllmVersionFromLabels({ maintainer: "x" })).toBeNull();
    expect(vllmVersionFromLabels(null)).toBeNull();
  });

  it("treats a local build tag as the same release, anything else as different", () => {
    expect(compareWithTested("0.31.0", "0.31.0").tested).toBe(true);
    expect(compareWithTested("v0.31.0+cu129", "0.31.0")).toEqual({ found: "0.31.0+cu129", tested: true });
    expect(compareWithTested("0.31.1rc1.dev50+g554340f3d", "0.31.0").tested).toBe(false);
    expect(compareWithTested("0.10.1.1", "0.31.0").tested).toBe(false);
    expect(compareWithTested("0.31.01", "0.31.0").tested).toBe(false);
  });
});
