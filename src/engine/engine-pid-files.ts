// The process driver's records of its engines, <home>/engines/<instance>.json: how a later runner (orphan
// cleanup) or `check` finds an engine that a killed runner left behind.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isAlive } from "./process-group.js";

export interface PidFile {
  pid: number;
  instanceId: string;
  startedAt: string;
}

/** What marks our runtime in a process's command line (`python3 -m llm_runtime`). */
export const RUNTIME_MARKER = "llm_runtime";

/** Every pid file in `dir` with its path; `record` is null for a torn or foreign file. */
export function readPidFiles(dir: string): Array<{ path: string; record: PidFile | null }> {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  return files.map((file) => {
    const path = join(dir, file);
    try {
      const record = JSON.parse(readFileSync(path, "utf8")) as PidFile;
      return { path, record: Number.isInteger(record?.pid) && record.pid > 0 ? record : null };
    } catch {
      return { path, record: null };
    }
  });
}

/** True when pid is alive and is one of our runtimes (guards against pid reuse). */
export function isOurEngine(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(RUNTIME_MARKER);
  } catch {
    // No /proc (macOS): trust the pid file.
    return true;
  }
}
