import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isAlive } from "../engine/process-group.js";

// One llm-runner per LLM_RUNNER_HOME: two would share the ledger, the engine records and the status files,
// and each would take the other's engines for orphans. instance.json alone cannot guard this (it is written
// once the gateway listens, so two starts at once both find none): runner.lock is created with O_EXCL first.

export const LOCK_FILE = "runner.lock";

export interface LockHolder {
  pid: number;
  startedAt: string;
  /** The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), where there is /proc. */
  procStart?: number;
}

/** A pid's start time from /proc, or null (no /proc, or no such process). */
function procStart(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

/**
 * Whether the lock's process still runs. A pid alone can be reused (after a reboot pids start over, and the
 * home survives): where /proc tells start times, the holder must also have started when the lock says.
 */
function holderAlive(holder: LockHolder): boolean {
  if (!isAlive(holder.pid)) return false;
  if (holder.procStart === undefined) return true;
  const now = procStart(holder.pid);
  return now === null || now === holder.procStart;
}

/** Another live process holds this home. */
export class HomeLockedError extends Error {
  override readonly name = "HomeLockedError";
  constructor(
    readonly home: string,
    readonly holder: LockHolder,
  ) {
    super(
      `llm-runner is already running for ${home} (pid ${holder.pid}, started ${holder.startedAt}). ` +
        `Stop it first with 'llm-runner stop', or use another LLM_RUNNER_HOME and PORT. ` +
        `(If no llm-runner runs as pid ${holder.pid}, remove ${join(home, LOCK_FILE)}.)`,
    );
  }
}

export interface HomeLock {
  readonly path: string;
  /** Removes the lock file if it is still ours; idempotent. */
  release(): void;
}

function readHolder(path: string): LockHolder | null {
  try {
    const v = JSON.parse(readFileSync(path, "utf8")) as Partial<LockHolder>;
    if (typeof v.pid !== "number" || !Number.isInteger(v.pid) || v.pid <= 0) return null;
    return {
      pid: v.pid,
      startedAt: typeof v.startedAt === "string" ? v.startedAt : "at an unknown time",
      ...(typeof v.procStart === "number" ? { procStart: v.procStart } : {}),
    };
  } catch {
    return null;
  }
}

/** The live process holding this home's lock (not this one), or null. */
export function lockHolder(home: string, self = process.pid): LockHolder | null {
  const holder = readHolder(join(home, LOCK_FILE));
  return holder && holder.pid !== self && holderAlive(holder) ? holder : null;
}

/**
 * Takes this home's lock for `pid`. The lock file is written in full under a private name and then hard-linked
 * into place (link fails if the name exists), so no other start can ever read it half-written. A lock whose
 * process is gone (or an unreadable one) is moved aside under a private name and checked again before it is
 * deleted: a racing start that moved a live lock by mistake puts it back. Throws HomeLockedError naming the
 * live holder.
 */
export function acquireHomeLock(home: string, pid = process.pid): HomeLock {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const path = join(home, LOCK_FILE);
  const mine = `${path}.${pid}.tmp`;
  const started = procStart(pid);
  const record = {
    pid,
    startedAt: new Date().toISOString(),
    ...(started === null ? {} : { procStart: started }),
  };
  writeFileSync(mine, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(mine, path);
        return heldLock(path, pid);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
      const holder = readHolder(path);
      if (holder && holder.pid !== pid && holderAlive(holder)) throw new HomeLockedError(home, holder);
      moveAsideIfStale(path, `${path}.${pid}.stale`, pid);
    }
  } finally {
    rmSync(mine, { force: true });
  }
  const holder = readHolder(path);
  throw holder
    ? new HomeLockedError(home, holder)
    : new Error(`could not take ${path}: another start keeps replacing it`);
}

/** Moves a stale lock out of the way; a live one (another start got there first) is put back. */
function moveAsideIfStale(path: string, aside: string, pid: number): void {
  try {
    renameSync(path, aside);
  } catch {
    return; // someone else moved it already: try again
  }
  const moved = readHolder(aside);
  if (moved && moved.pid !== pid && holderAlive(moved)) {
    try {
      linkSync(aside, path);
    } catch {
      // a third start took the name meanwhile: the next attempt reads who holds it
    }
  }
  rmSync(aside, { force: true });
}

function heldLock(path: string, pid: number): HomeLock {
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      if (readHolder(path)?.pid !== pid) return;
      try {
        unlinkSync(path);
      } catch {
        // already gone, or the home is read-only now: a dead pid's lock is replaced at the next start
      }
    },
  };
}
