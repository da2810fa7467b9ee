// The docker driver's lease: a file per engine container that the runner touches while it runs. The runtime in
// the container sees its mtime through a read-only bind mount and stops the engine once it goes stale
// (runtime/llm_runtime/supervisor_watch.py), so a runner killed with -9 leaves no container holding GPUs.
import { closeSync, mkdirSync, openSync, readdirSync, rmSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";

/** How often the runner renews a lease. */
export const LEASE_RENEW_MS = 2_000;
/** How long a lease may go without renewal before the engine stops: five renewals missed. */
export const LEASE_TIMEOUT_S = 10;
/** Where the lease appears inside the container. */
export const CONTAINER_LEASE_PATH = "/run/llm-runner/lease";
const SUFFIX = ".lease";

export class EngineLease {
  private readonly timer: NodeJS.Timeout;

  private constructor(readonly path: string) {
    // In place (utimes on the same inode): a bind-mounted file that is replaced would never change in the container.
    this.timer = setInterval(() => this.renew(), LEASE_RENEW_MS);
    this.timer.unref();
  }

  /** Creates the lease file `<dir>/<name>.lease` and renews it until released. */
  static take(dir: string, name: string): EngineLease {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, `${name}${SUFFIX}`);
    closeSync(openSync(path, "w", 0o600));
    return new EngineLease(path);
  }

  renew(): void {
    try {
      const now = new Date();
      utimesSync(this.path, now, now);
    } catch {
      // The home vanished: the engine stops once the lease is stale, which is what a lost home should mean.
    }
  }

  /** Stops renewing and removes the file; idempotent. */
  release(): void {
    clearInterval(this.timer);
    rmSync(this.path, { force: true });
  }

  /** Removes lease files in `dir` that nobody renewed for twice the timeout (left by a runner that was killed). */
  static removeStale(dir: string, nowMs = Date.now()): void {
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith(SUFFIX));
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      try {
        if (nowMs - statSync(path).mtimeMs > 2 * LEASE_TIMEOUT_S * 1000) rmSync(path, { force: true });
      } catch {
        // removed meanwhile
      }
    }
  }
}
