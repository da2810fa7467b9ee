import type { GpuInfo } from "../../gpu/types.js";

const MIB = 1024 * 1024;

// The AI-runner's HardwareInformation / HardwareStats: maps keyed by GPU index, memory in bytes.

export function gpuComputeInfo(gpus: GpuInfo[]) {
  const out: Record<
    string,
    { id: string; name: string; memory_total: number; memory_free: number; major: number; minor: number }
  > = {};
  for (const g of gpus) {
    out[String(g.index)] = {
      id: g.uuid,
      name: g.name,
      memory_total: g.memoryTotalMiB * MIB,
      memory_free: g.memoryFreeMiB * MIB,
      major: g.computeCap?.major ?? 0,
      minor: g.computeCap?.minor ?? 0,
    };
  }
  return out;
}

export function gpuUtilizationInfo(gpus: GpuInfo[]) {
  const out: Record<
    string,
    {
      id: string;
      name: string;
      memory_total: number;
      memory_free: number;
      utilization_compute: number;
      utilization_memory: number;
    }
  > = {};
  for (const g of gpus) {
    out[String(g.index)] = {
      id: g.uuid,
      name: g.name,
      memory_total: g.memoryTotalMiB * MIB,
      memory_free: g.memoryFreeMiB * MIB,
      utilization_compute: Math.round(g.utilizationGpu ?? 0),
      utilization_memory: Math.round(g.utilizationMemory ?? 0),
    };
  }
  return out;
}
