// GPU facts as read from `nvidia-smi --query-gpu=... --format=csv,noheader,nounits` (src/gpu/nvidia-smi.ts).
// Used by config checks (TP x PP vs GPUs, memory fit), `llm-runner check`, and /hardware/info|stats.

export interface GpuInfo {
  index: number;
  uuid: string; // "GPU-f9bb3aac-..."
  name: string; // "NVIDIA H100 80GB HBM3"
  memoryTotalMiB: number;
  memoryUsedMiB: number;
  memoryFreeMiB: number;
  utilizationGpu: number | null; // percent
  utilizationMemory: number | null; // percent
  temperatureC: number | null;
  powerW: number | null;
  driverVersion: string | null;
  computeCap: { major: number; minor: number } | null;
}

export interface GpuProbe {
  /** All GPUs on the host; [] when nvidia-smi is absent (no GPU). Rejects only when nvidia-smi exists but fails. */
  list(): Promise<GpuInfo[]>;
}
