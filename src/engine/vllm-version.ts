// The vLLM release llm-runner is tested with: one constant. Dockerfile.gpu's default base image
// (ARG VLLM_VERSION), the README and `llm-runner check` agree with it; src/engine/vllm-version.test.ts checks.
// How it was chosen and what was refreshed from that release: test/fixtures/vllm/README.md.
export const TESTED_VLLM_VERSION = "0.33.0";

/** The upstream image Dockerfile.gpu builds on. */
export const VLLM_BASE_IMAGE = `vllm/vllm-openai:v${TESTED_VLLM_VERSION}`;

/** The label Dockerfile.gpu puts on the engine image. "vllm.version" is a label some home-made images use.
 * (Not org.opencontainers.image.version: CUDA base images set it to the Ubuntu release.) */
export const VLLM_VERSION_LABEL = "org.llm-runner.vllm-version";
const OTHER_VERSION_LABELS = ["vllm.version"];

/** The vLLM version an image's labels name, or null when none does. */
export function vllmVersionFromLabels(labels: Record<string, string> | null | undefined): string | null {
  if (!labels) return null;
  for (const key of [VLLM_VERSION_LABEL, ...OTHER_VERSION_LABELS]) {
    const value = labels[key]?.trim();
    if (value && /^v?\d+\.\d+/.test(value)) return value.replace(/^v/, "");
  }
  return null;
}

export interface VersionVerdict {
  found: string;
  tested: boolean;
}

/**
 * Compares a vLLM version string (`0.31.0`, `v0.31.0`, `0.31.0+cu129`, `0.31.1rc1.dev50+g554340f3d`) with the
 * tested release. A local build tag (`+cu129`) is the same release; a different release or a pre-release is not.
 */
export function compareWithTested(version: string, tested: string = TESTED_VLLM_VERSION): VersionVerdict {
  const found = version.trim().replace(/^v/, "");
  const release = found.split("+")[0] ?? found;
  return { found, tested: release === tested };
}
