// reload.json in LLM_RUNNER_HOME: the last reload's state ("running", then its outcome), read by
// `llm-runner reload` after it sends SIGHUP.
import type { ConfigIssue } from "../config/types.js";
import { readJson, writeJsonAtomic } from "./instance-files.js";

export interface ReloadRecord {
  state: "running" | "invalid" | "unchanged" | "done" | "failed";
  startedAt: string;
  finishedAt?: string;
  message: string;
  issues?: ConfigIssue[];
  restarted?: number[];
  added?: number[];
  removed?: number[];
}

export function writeReloadRecord(path: string, record: ReloadRecord): void {
  try {
    writeJsonAtomic(path, record);
  } catch {
    // LLM_RUNNER_HOME vanished or is read-only: the reload still happens; only its report is lost.
  }
}

export function readReloadRecord(path: string): ReloadRecord | null {
  return readJson<ReloadRecord>(path);
}
