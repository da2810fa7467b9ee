import type { Config } from "../../config/types.js";
import type { GpuProbe } from "../../gpu/types.js";
import type { LiveRunnerGpu } from "./heartbeat-wire.js";

/** The registration's gpu: the first GPU the engines use, as go-livepeer's LiveRunnerGPU; null without one. */
export async function runnerGpu(
  probe: GpuProbe,
  config: Pick<Config, "gpuIds">,
): Promise<LiveRunnerGpu | null> {
  try {
    const gpus = await probe.list();
    const wanted = config.gpuIds === "all" ? gpus[0] : gpus.find((g) => g.index === config.gpuIds[0]);
    return wanted ? { id: String(wanted.index), name: wanted.name, vram_mb: wanted.memoryTotalMiB } : null;
  } catch {
    return null;
  }
}
