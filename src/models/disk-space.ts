// Free space where a pull writes, checked before the first byte so an operator learns "needs 16 GB, 9 GB free"
// in a second instead of after an hour.
import { statfs } from "node:fs/promises";
import path from "node:path";
import { formatBytes } from "./format-bytes.js";
import { PullError } from "./pull-error.js";

/** Bytes an unprivileged user can still write on the filesystem holding `dir` (or its nearest existing parent). */
export async function freeBytes(dir: string): Promise<number> {
  let p = path.resolve(dir);
  for (;;) {
    try {
      const s = await statfs(p);
      return s.bavail * s.bsize;
    } catch (err) {
      const parent = path.dirname(p);
      if ((err as { code?: string }).code !== "ENOENT" || parent === p) throw err;
      p = parent;
    }
  }
}

export function checkFreeSpace(input: {
  cacheDir: string;
  needed: number;
  free: number;
  repo: string;
}): void {
  if (input.needed <= input.free) return;
  const short = input.needed - input.free;
  throw new PullError(
    "disk_full",
    `not enough disk space in ${input.cacheDir} for ${input.repo}: the download needs ${formatBytes(input.needed)}, ${formatBytes(input.free)} is free`,
    `free at least ${formatBytes(short)} there (see 'df -h ${input.cacheDir}'), or set MODEL_DIR to a disk with room (e.g. MODEL_DIR=/mnt/models llm-runner pull ${input.repo})`,
  );
}
