// Parses `nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits`. The field list is a parameter
// because captures and tools ask for different columns; fields not asked for come out as null.
import type { GpuInfo } from "./types.js";

/** The columns our probe asks for, in order. */
export const QUERY_GPU_FIELDS = [
  "index",
  "uuid",
  "name",
  "memory.total",
  "memory.used",
  "memory.free",
  "utilization.gpu",
  "utilization.memory",
  "temperature.gpu",
  "power.draw",
  "driver_version",
  "compute_cap",
] as const;

export class GpuParseError extends Error {
  override readonly name = "GpuParseError";
}

const REQUIRED = ["index", "uuid", "name", "memory.total", "memory.used", "memory.free"];

/** "[N/A]", "[Not Supported]", "N/A" and other bracketed notes mean the GPU does not report the value. */
function missing(value: string): boolean {
  return value === "" || value === "N/A" || /^\[.*\]$/.test(value);
}

export function parseQueryGpuCsv(text: string, fields: readonly string[] = QUERY_GPU_FIELDS): GpuInfo[] {
  for (const f of REQUIRED) {
    if (!fields.includes(f)) throw new GpuParseError(`the field list lacks "${f}", which GpuInfo needs`);
  }
  const gpus: GpuInfo[] = [];
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  for (const [n, line] of lines.entries()) {
    const cells = line.split(",").map((c) => c.trim());
    if (cells.length !== fields.length) {
      throw new GpuParseError(
        `line ${n + 1} has ${cells.length} columns, expected ${fields.length}: ${line}`,
      );
    }
    const cell = (f: string): string | null => {
      const i = fields.indexOf(f);
      const v = i < 0 ? undefined : cells[i];
      return v === undefined || missing(v) ? null : v;
    };
    const number = (f: string): number | null => {
      const v = cell(f);
      if (v === null) return null;
      const x = Number(v);
      if (!Number.isFinite(x)) throw new GpuParseError(`line ${n + 1}: ${f} is not a number: "${v}"`);
      return x;
    };
    const required = (f: string): number => {
      const x = number(f);
      if (x === null) throw new GpuParseError(`line ${n + 1}: nvidia-smi did not report ${f}`);
      return x;
    };
    const cap = cell("compute_cap")?.match(/^(\d+)\.(\d+)$/);
    gpus.push({
      index: required("index"),
      uuid: cell("uuid") ?? "",
      name: cell("name") ?? "",
      memoryTotalMiB: required("memory.total"),
      memoryUsedMiB: required("memory.used"),
      memoryFreeMiB: required("memory.free"),
      utilizationGpu: number("utilization.gpu"),
      utilizationMemory: number("utilization.memory"),
      temperatureC: number("temperature.gpu"),
      powerW: number("power.draw"),
      driverVersion: cell("driver_version"),
      computeCap: cap ? { major: Number(cap[1]), minor: Number(cap[2]) } : null,
    });
  }
  return gpus;
}
