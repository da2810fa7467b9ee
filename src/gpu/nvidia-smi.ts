// The real GPU probe: runs nvidia-smi (argv, no shell, bounded in time) and parses its CSV.
import { execFile } from "node:child_process";
import { parseQueryGpuCsv, QUERY_GPU_FIELDS } from "./query-gpu-csv.js";
import type { GpuProbe } from "./types.js";

export type ExecFn = (
  bin: string,
  args: string[],
  options: { timeoutMs: number },
) => Promise<{ stdout: string; stderr: string }>;

/** Thrown when nvidia-smi exists but fails (driver not loaded, timeout, unreadable output). */
export class GpuProbeError extends Error {
  override readonly name = "GpuProbeError";
}

export const nvidiaSmiArgs = (): string[] => [
  `--query-gpu=${QUERY_GPU_FIELDS.join(",")}`,
  "--format=csv,noheader,nounits",
];

const execFileAsync: ExecFn = (bin, args, { timeoutMs }) =>
  new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(Object.assign(err, { stdout, stderr }));
        else resolve({ stdout, stderr });
      },
    );
  });

export interface NvidiaSmiOptions {
  bin?: string;
  timeoutMs?: number;
  exec?: ExecFn;
}

export function createNvidiaSmiProbe(options: NvidiaSmiOptions = {}): GpuProbe {
  const bin = options.bin ?? "nvidia-smi";
  const timeoutMs = options.timeoutMs ?? 10_000;
  const exec = options.exec ?? execFileAsync;
  return {
    async list() {
      let stdout: string;
      try {
        ({ stdout } = await exec(bin, nvidiaSmiArgs(), { timeoutMs }));
      } catch (err) {
        const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string; killed?: boolean };
        if (e.code === "ENOENT") return []; // no nvidia-smi: no NVIDIA GPU on this host
        if (e.killed) throw new GpuProbeError(`${bin} did not answer within ${timeoutMs} ms`);
        const said = `${e.stderr ?? ""}${e.stdout ?? ""}`.trim().split("\n")[0];
        throw new GpuProbeError(`${bin} failed (exit ${String(e.code ?? "?")})${said ? `: ${said}` : ""}`);
      }
      try {
        return parseQueryGpuCsv(stdout);
      } catch (err) {
        throw new GpuProbeError(`${bin} printed output we cannot read: ${(err as Error).message}`);
      }
    },
  };
}
