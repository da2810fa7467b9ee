import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EngineLease, LEASE_RENEW_MS, LEASE_TIMEOUT_S } from "./engine-lease.js";

const dirs: string[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "lease-"));
  dirs.push(d);
  return d;
}

describe("EngineLease (the docker driver's lease the runtime watches)", () => {
  it("is a private file renewed in place every LEASE_RENEW_MS, and removed on release", () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const dir = join(tempDir(), "engines");
    const lease = EngineLease.take(dir, "llm-runner-abc");
    expect(lease.path).toBe(join(dir, "llm-runner-abc.lease"));
    const before = statSync(lease.path);
    expect(before.mode & 0o777).toBe(0o600);
    utimesSync(lease.path, new Date(1_000), new Date(1_000));
    vi.advanceTimersByTime(LEASE_RENEW_MS);
    const after = statSync(lease.path);
    // The same inode: a bind mount of a file follows the inode, so a replaced file would never change inside.
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBeGreaterThan(Date.now() - 60_000);
    lease.release();
    expect(() => statSync(lease.path)).toThrow();
    lease.release();
  });

  it("removeStale drops leases nobody renewed for twice the timeout and keeps live ones", () => {
    const dir = tempDir();
    const now = Date.now();
    const old = join(dir, "dead.lease");
    const live = join(dir, "live.lease");
    const other = join(dir, "engine.json");
    for (const p of [old, live, other]) writeFileSync(p, "");
    const staleAt = new Date(now - 2 * LEASE_TIMEOUT_S * 1000 - 1_000);
    utimesSync(old, staleAt, staleAt);
    utimesSync(other, staleAt, staleAt);
    EngineLease.removeStale(dir, now);
    expect(() => statSync(old)).toThrow();
    expect(statSync(live).isFile()).toBe(true);
    expect(statSync(other).isFile()).toBe(true);
    EngineLease.removeStale(join(dir, "missing"), now);
  });
});
