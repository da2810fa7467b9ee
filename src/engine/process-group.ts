// Signals for a process group led by `pid` (the engine runs with detached: true, so its pgid is its pid).

import { readdirSync, readFileSync } from "node:fs";

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Sends the signal to the whole group. Never throws. No fallback to the bare pid: once the group is gone the
 * pid may already belong to someone else.
 */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !isAlive(pid);
}

/**
 * Signals the group led by `pid` and the groups its direct children lead: the vLLM launcher runs `vllm serve` in a
 * session of its own, which a signal to the launcher's group never reaches. Children are found in /proc (Linux).
 */
export function killTree(pid: number, signal: NodeJS.Signals): void {
  const leaders = ownGroupChildren(pid);
  killGroup(pid, signal);
  for (const child of leaders) killGroup(child, signal);
}

function ownGroupChildren(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the command name (in parentheses, may hold spaces): state, ppid, pgrp, …
      const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) === pid && Number(pgrp) === Number(entry)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
