import type Docker from "dockerode";
import { compareWithTested, TESTED_VLLM_VERSION, vllmVersionFromLabels } from "../../engine/vllm-version.js";
import type { CheckResult } from "./check-result.js";

// Asks the image itself when no label names the version: reading the package metadata is quick (no vLLM import,
// no GPU), unlike `vllm --version`.
const PROBE = ["python3", "-c", "import importlib.metadata as m; print(m.version('vllm'))"];

/** The check line for a vLLM version found in `where` (an image or the process driver's PATH). */
export function vllmVersionResult(
  version: string,
  where: string,
  fix = `build the tested image (npm run engine:gpu-image: Dockerfile.gpu pins ${TESTED_VLLM_VERSION}) or use an image with vLLM ${TESTED_VLLM_VERSION}`,
): CheckResult {
  const verdict = compareWithTested(version);
  if (verdict.tested)
    return {
      level: "ok",
      name: "vllm-version",
      message: `vLLM ${verdict.found} in ${where} (the tested release)`,
    };
  return {
    level: "warn",
    name: "vllm-version",
    message: `vLLM ${verdict.found} in ${where}; llm-runner is tested with vLLM ${TESTED_VLLM_VERSION}`,
    fix: `${fix}; other releases often work, but their flags, metrics and log lines were not checked`,
  };
}

/** Reads the vLLM version inside an engine image: its labels, else a short run of the image. */
export async function checkImageVllmVersion(
  docker: Docker,
  image: string,
  timeoutMs = 120_000,
): Promise<CheckResult> {
  const where = `ENGINE_IMAGE ${image}`;
  try {
    const info = (await docker.getImage(image).inspect()) as { Config?: { Labels?: Record<string, string> } };
    const labelled = vllmVersionFromLabels(info.Config?.Labels);
    return vllmVersionResult(labelled ?? (await askImage(docker, image, timeoutMs)), where);
  } catch (err) {
    return {
      level: "warn",
      name: "vllm-version",
      message: `could not read the vLLM version in ${where}: ${(err as Error).message}`,
      fix: `build the engine image from Dockerfile.gpu (it labels the vLLM version; tested: ${TESTED_VLLM_VERSION})`,
    };
  }
}

async function askImage(docker: Docker, image: string, timeoutMs: number): Promise<string> {
  const container = await docker.createContainer({
    Image: image,
    Entrypoint: PROBE,
    Cmd: [],
    Tty: true, // one raw output stream, no multiplexing headers
    NetworkDisabled: true,
    Labels: { "org.llm-runner.role": "vllm-version-probe" },
  });
  try {
    await container.start();
    const waited = container.wait();
    const timer = new Promise<never>((_, reject) => {
      setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs).unref();
    });
    const { StatusCode } = (await Promise.race([waited, timer])) as { StatusCode: number };
    const out = String(await container.logs({ stdout: true, stderr: true, follow: false })).trim();
    const version = out.split(/\r?\n/).at(-1)?.trim() ?? "";
    if (StatusCode !== 0 || !/^\d+\.\d+/.test(version))
      throw new Error(
        `the image has no vLLM python package (${out.split(/\r?\n/).at(-1) || `exit ${StatusCode}`})`,
      );
    return version;
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}
