// `check`: does this machine fit the configuration? GPUs, model files, ports and the home folder.

import { accessSync, constants, mkdirSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { readHostEnv } from "../../config/host-env.js";
import { defaultHubCache } from "../../config/load-config.js";
import { locateModelConfig } from "../../config/model-info.js";
import { replicaSlotsOf } from "../../config/replica-plan.js";
import type { Config } from "../../config/types.js";
import { assertPortFree } from "../../engine/ports.js";
import { gpuProbeFor } from "../../gpu/probe-from-env.js";
import type { GpuInfo } from "../../gpu/types.js";
import { findRunningInstance } from "../../instance/instance-files.js";
import type { CheckResult } from "./check-result.js";

export async function checkGpus(config: Config, env: NodeJS.ProcessEnv): Promise<CheckResult[]> {
  if (config.engine === "sim") {
    return [{ level: "ok", name: "gpus", message: "GPUs: not needed by the simulator engine" }];
  }
  let gpus: GpuInfo[];
  try {
    gpus = await gpuProbeFor(readHostEnv(env).fakeGpusFile).list();
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

export function checkModelFiles(config: Config, env: NodeJS.ProcessEnv): CheckResult {
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

export async function checkPorts(config: Config, models: Config[] = []): Promise<CheckResult[]> {
  const running = findRunningInstance(config.home);
  const results: CheckResult[] = [];
  const ports: Array<[number, string, string]> = [[config.port, "PORT", config.host]];
  // One engine port per replica (ENGINE_PORT + N); with several models, each model's after the one before.
  let offset = 0;
  for (const own of models.length > 0 ? models : [config]) {
    for (const slot of replicaSlotsOf(own)) {
      if (slot.enginePort === 0) continue;
      const at = offset + slot.index;
      const who =
        models.length > 0
          ? ` (${own.modelId}, replica ${slot.index})`
          : slot.index === 0
            ? ""
            : ` (replica ${slot.index})`;
      ports.push([slot.enginePort, `${at === 0 ? "ENGINE_PORT" : `ENGINE_PORT+${at}`}${who}`, "127.0.0.1"]);
    }
    offset += replicaSlotsOf(own).length;
  }
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

export function checkHome(config: Config): CheckResult {
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
