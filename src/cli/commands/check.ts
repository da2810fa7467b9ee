import { accessSync, constants, mkdirSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { execa } from "execa";
import { configFlagsHelp, splitConfigFlags } from "../../config/config-flags.js";
import { formatKvCacheLine } from "../../config/kv-fit-check.js";
import { defaultHubCache, loadConfig } from "../../config/load-config.js";
import { locateModelConfig } from "../../config/model-info.js";
import type { Config } from "../../config/types.js";
import { createDockerClient } from "../../engine/docker-client.js";
import { assertPortFree } from "../../engine/ports.js";
import { TESTED_VLLM_VERSION } from "../../engine/vllm-version.js";
import { gpuProbeFromEnv } from "../../gpu/probe-from-env.js";
import type { GpuInfo } from "../../gpu/types.js";
import { RUNTIME_DIR } from "../../instance/engine-home.js";
import { findRunningInstance } from "../../instance/instance-files.js";
import { type CliCommand, type CliIO, EXIT, UsageError } from "../cli-command.js";
import { checkImageVllmVersion, vllmVersionResult } from "./check-vllm-version.js";

const HELP = `Usage: llm-runner check [--json] [config flags]

The preflight doctor: checks the configuration (the same checks as 'llm-runner flags'), the engine backend
(Docker API and NVIDIA runtime for the docker driver; python3 and the runtime for the process driver), the
GPUs and their memory against the model (the weights, and the KV cache for one MAX_MODEL_LEN sequence), the
model files, the ports and the state folder. One line each: ✔ ok, ! warning, ✘ problem with the fix.
Exit code 0 when nothing is ✘, 2 for a bad config, 1 otherwise.

Flags:
  --json   machine-readable results
${configFlagsHelp()}

Examples:
  llm-runner check
  llm-runner check --engine sim --driver process
  DRIVER=docker ENGINE_IMAGE=localhost/llm-runner-sim:latest ENGINE=sim llm-runner check
`;

export type CheckLevel = "ok" | "warn" | "fail";
export interface CheckResult {
  level: CheckLevel;
  name: string;
  message: string;
  fix?: string;
}

const MARK: Record<CheckLevel, string> = { ok: "✔", warn: "!", fail: "✘" };

export const checkCommand: CliCommand = {
  name: "check",
  summary: "preflight doctor: config, Docker/NVIDIA or python, GPUs, model files, ports",
  help: HELP,
  async run(args, io) {
    const { overrides, rest } = splitConfigFlags(args);
    let json = false;
    try {
      json =
        parseArgs({ args: rest, options: { json: { type: "boolean" } }, strict: true }).values.json === true;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const results: CheckResult[] = [];
    const loaded = await loadConfig({ env: io.env, overrides, gpuProbe: gpuProbeFromEnv(io.env) });
    if (!loaded.ok) {
      for (const issue of loaded.issues) {
        results.push({
          level: "fail",
          name: "config",
          message: `${issue.variable}=${issue.value ?? "(unset)"}: ${issue.message}`,
        });
      }
    } else {
      const c = loaded.config;
      results.push({
        level: "ok",
        name: "config",
        message: `configuration valid (MODEL_ID=${c.modelId}, ENGINE=${c.engine}, DRIVER=${c.driver}, TP=${c.tensorParallelSize}, PP=${c.pipelineParallelSize})`,
      });
    }
    for (const w of loaded.warnings) results.push({ level: "warn", name: "config", message: w });
    if (loaded.kvCache && loaded.kvCache.verdict !== "short") {
      const level = loaded.kvCache.verdict === "fits" ? "ok" : "warn";
      results.push({ level, name: "kv-cache", message: formatKvCacheLine(loaded.kvCache) });
    }
    if (loaded.ok) results.push(...(await checkSetup(loaded.config, io)));

    if (json)
      io.stdout.write(
        `${JSON.stringify({ ok: !results.some((r) => r.level === "fail"), results }, null, 2)}\n`,
      );
    else for (const r of results) io.stdout.write(formatResult(r));
    if (!loaded.ok) return EXIT.usage;
    return results.some((r) => r.level === "fail") ? EXIT.failure : EXIT.ok;
  },
};

function formatResult(r: CheckResult): string {
  return `${MARK[r.level]} ${r.message}\n${r.fix ? `    fix: ${r.fix}\n` : ""}`;
}

async function checkSetup(config: Config, io: CliIO): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  if (config.driver === "docker") results.push(...(await checkDocker(config, io.env)));
  else results.push(...(await checkPython(config, io.env)));
  results.push(...(await checkGpus(config, io.env)));
  results.push(checkModelFiles(config, io.env));
  results.push(...(await checkPorts(config)));
  results.push(checkHome(config));
  return results;
}

async function checkDocker(config: Config, env: NodeJS.ProcessEnv): Promise<CheckResult[]> {
  const where = env.DOCKER_HOST || "the default socket";
  let docker: ReturnType<typeof createDockerClient>;
  try {
    docker = createDockerClient(env.DOCKER_HOST);
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

async function checkPython(config: Config, env: NodeJS.ProcessEnv): Promise<CheckResult[]> {
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

async function checkGpus(config: Config, env: NodeJS.ProcessEnv): Promise<CheckResult[]> {
  if (config.engine === "sim") {
    return [{ level: "ok", name: "gpus", message: "GPUs: not needed by the simulator engine" }];
  }
  let gpus: GpuInfo[];
  try {
    gpus = await gpuProbeFromEnv(env).list();
  } catch (err) {
    return [
      {
        level: "fail",
        name: "gpus",
        message: `nvidia-smi failed: ${(err as Error).message}`,
        fix: "check the NVIDIA driver (nvidia-smi should list the GPUs)",
      },
    ];
  }
  if (gpus.length === 0) {
    return [
      {
        level: "fail",
        name: "gpus",
        message: "no NVIDIA GPU found (nvidia-smi is missing or lists none)",
        fix: "install the NVIDIA driver, or try llm-runner without a GPU: --engine sim",
      },
    ];
  }
  const selected =
    config.gpuIds === "all" ? gpus : gpus.filter((g) => (config.gpuIds as number[]).includes(g.index));
  const list = selected
    .map(
      (g) =>
        `#${g.index} ${g.name} (${(g.memoryFreeMiB / 1024).toFixed(1)}/${(g.memoryTotalMiB / 1024).toFixed(1)} GiB free)`,
    )
    .join(", ");
  // Memory vs model and TP×PP vs GPUs are config rules: a problem there already shows as a config ✘ above.
  return [{ level: "ok", name: "gpus", message: `${selected.length} GPU(s) for the engine: ${list}` }];
}

function checkModelFiles(config: Config, env: NodeJS.ProcessEnv): CheckResult {
  if (config.engine === "sim")
    return { level: "ok", name: "model", message: "model files: not needed by the simulator" };
  const cacheDirs = [config.modelDir ?? defaultHubCache(env, env.HOME || homedir())];
  const located = locateModelConfig({ modelId: config.modelId, cacheDirs });
  if (located.found) {
    const dir = dirname(located.configPath);
    const weights = safeList(dir).filter((f) => f.endsWith(".safetensors") || f.endsWith(".bin")).length;
    return weights > 0
      ? { level: "ok", name: "model", message: `model files found: ${dir} (${weights} weight file(s))` }
      : {
          level: "warn",
          name: "model",
          message: `config.json found at ${dir} but no weight files next to it`,
          fix: "download the full model (huggingface-cli download <id> --cache-dir MODEL_DIR)",
        };
  }
  if (config.modelId.startsWith("/")) {
    return {
      level: "fail",
      name: "model",
      message: `no config.json in ${config.modelId}`,
      fix: "point MODEL_ID at a folder that holds the model's config.json and weights",
    };
  }
  return {
    level: "warn",
    name: "model",
    message: `model ${config.modelId} not downloaded yet (looked in ${located.searched.join(", ")}): 'llm-runner start' pulls it first, or run 'llm-runner pull ${config.modelId}' now`,
    fix:
      located.hint ??
      `set MODEL_DIR to a Hugging Face cache that holds it, and HF_TOKEN for gated models${config.hfToken ? "" : " (HF_TOKEN is not set)"}`,
  };
}

async function checkPorts(config: Config): Promise<CheckResult[]> {
  const running = findRunningInstance(config.home);
  const results: CheckResult[] = [];
  const ports: Array<[number, string, string]> = [[config.port, "PORT", config.host]];
  if (config.enginePort !== 0) ports.push([config.enginePort, "ENGINE_PORT", "127.0.0.1"]);
  for (const [port, variable, host] of ports) {
    try {
      await assertPortFree(port, variable, host);
      results.push({ level: "ok", name: "port", message: `${variable} ${port} on ${host} is free` });
    } catch (err) {
      results.push({
        level: "fail",
        name: "port",
        message:
          (err as Error).message +
          (running ? ` (llm-runner pid ${running.pid} is running: ${running.url})` : ""),
        fix: running ? "llm-runner stop" : `free the port, or set ${variable} to another one`,
      });
    }
  }
  return results;
}

function checkHome(config: Config): CheckResult {
  try {
    mkdirSync(config.home, { recursive: true, mode: 0o700 });
    accessSync(config.home, constants.W_OK);
    return { level: "ok", name: "home", message: `state folder ${config.home} is writable` };
  } catch (err) {
    return {
      level: "fail",
      name: "home",
      message: `state folder ${config.home} is not writable: ${(err as Error).message}`,
      fix: "set LLM_RUNNER_HOME to a writable folder",
    };
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(join(dir));
  } catch {
    return [];
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref();
    }),
  ]);
}
