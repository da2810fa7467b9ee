import { execa } from "execa";
import { readHostEnv } from "../../config/host-env.js";
import type { Config } from "../../config/types.js";
import { createDockerClient } from "../../engine/docker-client.js";
import { TESTED_VLLM_VERSION } from "../../engine/vllm-version.js";
import { RUNTIME_DIR } from "../../instance/engine-home.js";
import { type CheckResult, withTimeout } from "./check-result.js";
import { checkImageVllmVersion, vllmVersionResult } from "./check-vllm-version.js";

export async function checkDocker(config: Config, env: NodeJS.ProcessEnv): Promise<CheckResult[]> {
  const { dockerHost } = readHostEnv(env);
  const where = dockerHost ?? "the default socket";
  let docker: ReturnType<typeof createDockerClient>;
  try {
    docker = createDockerClient(dockerHost);
    await withTimeout(docker.ping(), 3_000);
  } catch (err) {
    return [
      {
        level: "fail",
        name: "docker",
        message: `Docker API not reachable at ${where}: ${(err as Error).message}`,
        fix: "start Docker (systemctl start docker) or Podman (npm run engine:podman), set DOCKER_HOST, or use DRIVER=process",
      },
    ];
  }
  const results: CheckResult[] = [
    { level: "ok", name: "docker", message: `Docker API reachable at ${where}` },
  ];
  if (config.engine === "vllm") {
    const info = (await docker.info()) as { Runtimes?: Record<string, unknown>; CDISpecDirs?: string[] };
    const runtimes = Object.keys(info.Runtimes ?? {});
    results.push(
      runtimes.includes("nvidia")
        ? { level: "ok", name: "nvidia-runtime", message: "NVIDIA container runtime present" }
        : {
            level: "fail",
            name: "nvidia-runtime",
            message: `no NVIDIA container runtime (runtimes: ${runtimes.join(", ") || "none"})`,
            fix: "install the NVIDIA Container Toolkit (nvidia-ctk runtime configure --runtime=docker) and restart Docker",
          },
    );
  }
  try {
    await docker.getImage(config.engineImage).inspect();
    results.push({ level: "ok", name: "image", message: `engine image ${config.engineImage} present` });
    if (config.engine === "vllm") results.push(await checkImageVllmVersion(docker, config.engineImage));
  } catch {
    const local = config.engineImage.startsWith("localhost/");
    const build =
      config.engine === "sim"
        ? "npm run engine:sim-image"
        : `docker build -f Dockerfile.gpu -t ${config.engineImage} .`;
    results.push({
      level: local ? "fail" : "warn",
      name: "image",
      message: local
        ? `engine image ${config.engineImage} not found (a localhost/ image cannot be pulled)`
        : `engine image ${config.engineImage} not present yet: it will be pulled at start`,
      fix: local
        ? `build it: ${build}`
        : `pull it now to save time at start: docker pull ${config.engineImage}`,
    });
  }
  return results;
}

export async function checkPython(config: Config, env: NodeJS.ProcessEnv): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const probe = await execa(config.python, ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], {
    reject: false,
    timeout: 10_000,
    env: { ...env, PYTHONPATH: RUNTIME_DIR },
  });
  if (probe.failed) {
    return [
      {
        level: "fail",
        name: "python",
        message: `cannot run '${config.python}': ${probe.shortMessage ?? "failed"}`,
        fix: "install python3 3.10+ (apt-get install python3) or set PYTHON to an interpreter",
      },
    ];
  }
  const [major = 0, minor = 0] = String(probe.stdout).trim().split(".").map(Number);
  results.push(
    major > 3 || (major === 3 && minor >= 10)
      ? { level: "ok", name: "python", message: `${config.python} is Python ${probe.stdout}` }
      : {
          level: "fail",
          name: "python",
          message: `${config.python} is Python ${probe.stdout}; 3.10+ is needed`,
          fix: "install python3 3.10+ or set PYTHON",
        },
  );
  const runtime = await execa(config.python, ["-c", "import llm_runtime"], {
    reject: false,
    timeout: 10_000,
    env: { ...env, PYTHONPATH: RUNTIME_DIR },
  });
  results.push(
    runtime.failed
      ? {
          level: "fail",
          name: "runtime",
          message: `the engine runtime does not import from ${RUNTIME_DIR}: ${String(runtime.stderr).trim().split("\n").at(-1)}`,
          fix: "reinstall llm-runner (the runtime/ folder ships with it)",
        }
      : { level: "ok", name: "runtime", message: `engine runtime importable (${RUNTIME_DIR})` },
  );
  if (config.engine === "vllm") {
    const vllm = await execa("vllm", ["--version"], { reject: false, timeout: 60_000, env });
    results.push(
      vllm.failed
        ? {
            level: "fail",
            name: "vllm",
            message: "vLLM is not installed for the process driver ('vllm' is not on PATH)",
            fix: "pip install vllm in this environment, or use DRIVER=docker with the GPU image (Dockerfile.gpu)",
          }
        : vllmVersionResult(
            String(vllm.stdout).trim().split("\n").at(-1) ?? "",
            "the vllm on PATH",
            `pip install vllm==${TESTED_VLLM_VERSION}`,
          ),
    );
  }
  return results;
}
