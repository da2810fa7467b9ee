import { execFileSync } from "node:child_process";
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished } from "vitest";
import { isAlive, killGroup, waitForExit } from "../../src/engine/process-group.js";

// Host faults for the reliability tests: small tmpfs disks (root only), a disk filled on purpose, and the
// cleanup of foreground runners and of any engine they left behind.

export const SIM = {
  ENGINE: "sim",
  DRIVER: "process",
  HOST: "127.0.0.1",
  ENGINE_PORT: "0",
  MAX_MODEL_LEN: "4096",
  MAX_NUM_BATCHED_TOKENS: "4096",
  AUTH_TOKEN: "reliability-test-token",
};

/** A tmpfs of `sizeMiB` mounted on a fresh directory; unmounted (and removed) when the test ends. */
export function tmpfs(sizeMiB: number, readOnly = false): string {
  if (process.getuid?.() !== 0) {
    throw new Error("this test mounts a tmpfs: run it as root (CI does), e.g. sudo npx vitest run ...");
  }
  const dir = mkdtempSync(join(tmpdir(), "llmr-fs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m${readOnly ? ",ro" : ""}`, "tmpfs", dir]);
  onTestFinished(async () => {
    for (let i = 0; i < 50; i++) {
      try {
        execFileSync("umount", [dir], { stdio: "ignore" });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100)); // a process of the test still closing its files
        if (i === 49) execFileSync("umount", ["-l", dir]);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/**
 * Writes a filler file until the disk is full, then gives `leaveBytes` back; returns a function that frees the
 * space again.
 */
export function fillDisk(dir: string, leaveBytes = 0): () => void {
  const path = join(dir, "filler");
  const fd = openSync(path, "w");
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (let i = 0; i < 100_000; i++) writeSync(fd, block, 0, block.length);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
  if (leaveBytes > 0) truncateSync(path, Math.max(0, statSync(path).size - leaveBytes));
  return () => rmSync(path, { force: true });
}

/**
 * Stops foreground runners a test started (SIGTERM, then SIGKILL), then any engine still running for `home`
 * (a runner killed -9 leaves its engine, as designed): found by the LLM_RUNNER_HOME in its environment, which
 * is this test's own temporary directory, so nothing else is touched.
 */
export async function stopForeground(
  runners: Array<{ pid?: number | undefined; kill(s: NodeJS.Signals): boolean }>,
  home: string,
) {
  for (const r of runners) if (r.pid && isAlive(r.pid)) r.kill("SIGTERM");
  for (const r of runners) {
    if (!r.pid) continue;
    if (!(await waitForExit(r.pid, 20_000))) r.kill("SIGKILL");
    await waitForExit(r.pid, 5_000);
  }
  for (const pid of enginesOf(home)) {
    killGroup(pid, "SIGKILL");
    await waitForExit(pid, 5_000);
  }
}

export function enginesOf(home: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      const env = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (cmd.includes("llm_runtime") && env.includes(`LLM_RUNNER_HOME=${home}`)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}
