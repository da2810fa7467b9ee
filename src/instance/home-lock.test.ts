import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { acquireHomeLock, HomeLockedError, LOCK_FILE, lockHolder } from "./home-lock.js";

const homes: string[] = [];
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});
function home(): string {
  const h = mkdtempSync(join(tmpdir(), "llmr-lock-"));
  homes.push(h);
  return h;
}
/** A pid that surely is not running: a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(child.stdout.toString());
}

describe("home lock", () => {
  it("a second lock on the same home is refused, naming the live holder", () => {
    const h = home();
    const first = acquireHomeLock(h);
    // Another live process (the parent of this test process is alive) asking for the same home:
    expect(() => acquireHomeLock(h, process.ppid)).toThrow(HomeLockedError);
    expect(() => acquireHomeLock(h, process.ppid)).toThrow(
      new RegExp(`already running for .* \\(pid ${process.pid},`),
    );
    expect(lockHolder(h, process.ppid)?.pid).toBe(process.pid);
    first.release();
    expect(existsSync(join(h, LOCK_FILE))).toBe(false);
    const second = acquireHomeLock(h, process.ppid);
    expect(JSON.parse(readFileSync(join(h, LOCK_FILE), "utf8")).pid).toBe(process.ppid);
    second.release();
  });

  it("a lock left by a dead process, or a torn one, is replaced", () => {
    const h = home();
    writeFileSync(join(h, LOCK_FILE), JSON.stringify({ pid: deadPid(), startedAt: "x" }));
    expect(lockHolder(h)).toBeNull();
    acquireHomeLock(h).release();
    writeFileSync(join(h, LOCK_FILE), "{torn");
    const lock = acquireHomeLock(h);
    expect(JSON.parse(readFileSync(lock.path, "utf8")).pid).toBe(process.pid);
    lock.release();
  });

  it("a live pid that started after the lock was written (a reused pid) is not the holder", () => {
    const h = home();
    // The parent of this process is alive, but its start time is not the one recorded.
    writeFileSync(join(h, LOCK_FILE), JSON.stringify({ pid: process.ppid, startedAt: "x", procStart: 1 }));
    expect(lockHolder(h)).toBeNull();
    acquireHomeLock(h).release();
    // With its true start time recorded, the same pid holds the home.
    acquireHomeLock(h, process.ppid);
    expect(lockHolder(h)?.pid).toBe(process.ppid);
  });

  it("release leaves a lock that another process took over alone", () => {
    const h = home();
    const lock = acquireHomeLock(h);
    writeFileSync(lock.path, JSON.stringify({ pid: process.ppid, startedAt: "y" }));
    lock.release();
    expect(existsSync(lock.path)).toBe(true);
  });
});
