import type { GpuInfo } from "../types.js";

/** The H100 of test/fixtures/gpu (captured with nvidia-smi), as the probe reports it. */
export const H100: GpuInfo = {
  index: 0,
  uuid: "GPU-f9bb3aac-f5c0-319c-d84c-9f24c1c67aee",
  name: "NVIDIA H100 80GB HBM3",
  memoryTotalMiB: 81559,
  memoryUsedMiB: 0,
  memoryFreeMiB: 81079,
  utilizationGpu: 0,
  utilizationMemory: 0,
  temperatureC: 39,
  powerW: 126.4,
  driverVersion: "580.159.04",
  computeCap: { major: 9, minor: 0 },
};
