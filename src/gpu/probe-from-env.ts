// Picks the GPU probe for a CLI run. LLM_RUNNER_FAKE_GPUS=<csv file> (config/host-env.ts) is a testing aid: the file holds
// nvidia-smi CSV in our column order (QUERY_GPU_FIELDS), so end-to-end tests can pretend to have GPUs.
import { readFile } from "node:fs/promises";
import { createNvidiaSmiProbe, GpuProbeError } from "./nvidia-smi.js";
import { parseQueryGpuCsv } from "./query-gpu-csv.js";
import type { GpuProbe } from "./types.js";

export const FAKE_GPUS_VARIABLE = "LLM_RUNNER_FAKE_GPUS";

/** nvidia-smi, or the CSV file `fake` when it is set. */
export function gpuProbeFor(fake: string | undefined): GpuProbe {
  if (!fake) return createNvidiaSmiProbe();
  return {
    async list() {
      let text: string;
      try {
        text = await readFile(fake, "utf8");
      } catch (err) {
        throw new GpuProbeError(`${FAKE_GPUS_VARIABLE}=${fake}: ${(err as Error).message}`);
      }
      try {
        return parseQueryGpuCsv(text);
      } catch (err) {
        throw new GpuProbeError(`${FAKE_GPUS_VARIABLE}=${fake}: ${(err as Error).message}`);
      }
    },
  };
}
