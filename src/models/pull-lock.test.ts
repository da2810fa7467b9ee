import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PullError } from "./pull-error.js";
import { acquirePullLock } from "./pull-lock.js";

const dirs: string[] = [];
const cacheDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "llmr-lock-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const lockFile = (cache: string) => path.join(cache, ".locks", "models--acme--m", "llm-runner-pull.lock");

describe("acquirePullLock", () => {
  it("lets one pull per model run, and names the pid of the one that holds it", () => {
    const cache = cacheDir();
    const lock = acquirePullLock(cache, "acme/m", process.pid);
    expect(existsSync(lockFile(cache))).toBe(true);
    // Another (live) process holds it: this test process's parent is alive.
    writeFileSync(lockFile(cache), String(process.ppid));
    expect(() => acquirePullLock(cache, "acme/m", process.pid)).toThrow(PullError);
    expect(() => acquirePullLock(cache, "acme/m", process.pid)).toThrow(`pid ${process.ppid}`);
    lock.release();
    expect(existsSync(lockFile(cache))).toBe(false);
  });

  it("takes over the lock of a pull that was killed", () => {
    const cache = cacheDir();
    acquirePullLock(cache, "acme/m", process.pid);
    writeFileSync(lockFile(cache), "2147483646"); // no such process
    const lock = acquirePullLock(cache, "acme/m", process.pid);
    lock.release();
    expect(existsSync(lockFile(cache))).toBe(false);
  });
});
