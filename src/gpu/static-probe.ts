import type { GpuInfo, GpuProbe } from "./types.js";

/** A probe that always lists the given GPUs (tests, and hosts described by a file). */
export function staticGpuProbe(gpus: GpuInfo[]): GpuProbe {
  return { list: async () => gpus.map((g) => ({ ...g })) };
}
