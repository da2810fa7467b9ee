// `llm-runner check` with DISTRIBUTED_EXECUTOR=ray: does the Ray cluster at RAY_ADDRESS have the GPUs that
// TENSOR_PARALLEL_SIZE × PIPELINE_PARALLEL_SIZE needs? Read from `ray status`, whose Resources section lists
// "used/total GPU" (e.g. " 0.0/16.0 GPU"). Ray is the operator's: when the CLI or the cluster cannot be
// reached, the result is a warning (`!`) saying so, not a failure.
import { execa } from "execa";
import type { Config } from "../../config/types.js";
import type { CheckResult } from "./check-result.js";

/** The cluster's total GPUs from `ray status` output, or null when it lists none. */
export function rayStatusGpus(text: string): number | null {
  const line = /^\s*[\d.]+\/([\d.]+)\s+GPU\s*$/m.exec(text);
  return line ? Number(line[1]) : null;
}

export type RunRayStatus = (address: string) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

const runRayStatus: RunRayStatus = async (address) => {
  const r = await execa("ray", ["status", "--address", address], { reject: false, timeout: 15_000 });
  return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
};

export async function checkRay(config: Config, run: RunRayStatus = runRayStatus): Promise<CheckResult> {
  const address = config.rayAddress ?? "";
  const need = config.tensorParallelSize * config.pipelineParallelSize;
  let out: Awaited<ReturnType<RunRayStatus>>;
  try {
    out = await run(address);
  } catch (err) {
    out = { exitCode: 1, stdout: "", stderr: (err as Error).message };
  }
  if (out.exitCode !== 0) {
    const why = (out.stderr || out.stdout).trim().split("\n").slice(-1)[0] ?? "";
    return {
      level: "warn",
      name: "ray",
      message: `the Ray cluster at RAY_ADDRESS=${address} could not be read with 'ray status' (${why || `exit ${out.exitCode}`}): TP × PP = ${need} GPUs not checked against it`,
      fix: "install Ray where llm-runner runs (pip install 'ray[default]') and start the cluster (ray start --head / --address), or check by hand with: ray status",
    };
  }
  const total = rayStatusGpus(out.stdout);
  if (total === null || total < need) {
    return {
      level: "fail",
      name: "ray",
      message: `the Ray cluster at ${address} has ${total ?? 0} GPUs, but TENSOR_PARALLEL_SIZE × PIPELINE_PARALLEL_SIZE = ${need}`,
      fix: "join more GPU nodes (ray start --address=<head>:6379 on each), or lower TENSOR_PARALLEL_SIZE / PIPELINE_PARALLEL_SIZE",
    };
  }
  return {
    level: "ok",
    name: "ray",
    message: `the Ray cluster at ${address} has ${total} GPUs (TP × PP = ${need})`,
  };
}
