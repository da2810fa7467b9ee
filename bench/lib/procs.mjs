// Processes the bench starts, pinned to a core with taskset when it can, read through /proc (CPU time, RSS), and
// always stopped: stopAll() runs on normal exit, on error and on SIGINT/SIGTERM.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** Whether `taskset` exists and this machine has at least two cores to split. */
export function canPin(cores) {
  if (cores < 2) return false;
  return spawnSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" }).status === 0;
}

/** Pins every thread of this process (main + libuv pool) to one core. */
export function pinSelf(core) {
  const r = spawnSync("taskset", ["-a", "-pc", String(core), String(process.pid)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`taskset could not pin the load generator: ${r.stderr.trim()}`);
}

/** Moves every thread of another process to one core. */
export function pinPid(pid, core) {
  const r = spawnSync("taskset", ["-a", "-pc", String(core), String(pid)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`taskset could not pin pid ${pid}: ${r.stderr.trim()}`);
}

/** Seconds of CPU (user + system) a process has used, from /proc/<pid>/stat; null once it is gone. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/** Resident set size now and its peak (VmRSS / VmHWM), in MB; null once the process is gone. */
export function memoryMb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
    return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
  } catch {
    return null;
  }
}

export function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split("\0")
      .filter((s) => s !== "");
  } catch {
    return null;
  }
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value; throws `what` after timeoutMs. */
export async function waitFor(fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Every process the bench started, so each is stopped by its own pid whatever happens. */
export class ProcessSet {
  constructor({ pinCore = null } = {}) {
    this.pinCore = pinCore;
    this.children = new Map(); // pid -> { child, name, exited }
    this.extra = new Map(); // pid -> name: processes started by our children (the gateway's engine)
  }

  /** Spawns cmd on `core` (when pinning is on); stdout/stderr go to `stdio` (a file descriptor, or "ignore"). */
  spawn(name, cmd, args, { env, cwd, stdio = "ignore", core = this.pinCore } = {}) {
    const [file, argv] = core === null ? [cmd, args] : ["taskset", ["-c", String(core), cmd, ...args]];
    const child = spawn(file, argv, { env, cwd, stdio: ["ignore", stdio, stdio] });
    const entry = { child, name, exited: false };
    const exitedP = new Promise((resolve) => child.once("exit", resolve));
    entry.exitedP = exitedP.then(() => {
      entry.exited = true;
    });
    child.once("error", () => {
      entry.exited = true;
    });
    this.children.set(child.pid, entry);
    return child;
  }

  /** Remembers a grandchild to kill at the end if its parent did not stop it. */
  adopt(pid, name) {
    this.extra.set(pid, { name, cmd: (cmdline(pid) ?? []).join(" ") });
  }

  /** SIGTERM, wait up to graceMs, then SIGKILL. */
  async stop(pid, graceMs = 10_000) {
    const entry = this.children.get(pid);
    if (!entry) return;
    if (!entry.exited) {
      try {
        entry.child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await Promise.race([entry.exitedP, sleep(graceMs)]);
      if (!entry.exited) {
        try {
          entry.child.kill("SIGKILL");
        } catch {
          // already gone
        }
        await Promise.race([entry.exitedP, sleep(2_000)]);
      }
    }
    this.children.delete(pid);
  }

  async stopAll() {
    await Promise.all([...this.children.keys()].map((pid) => this.stop(pid)));
    for (const [pid, { cmd }] of this.extra) {
      // Only if the pid still runs the same command: never signal a recycled pid.
      if (alive(pid) && (cmdline(pid) ?? []).join(" ") === cmd) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone meanwhile
        }
      }
    }
    this.extra.clear();
  }

  /** Synchronous last resort for process exit: SIGKILL whatever is left. */
  killAllNow() {
    for (const { child, exited } of this.children.values()) {
      if (!exited) {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone
        }
      }
    }
    for (const [pid, { cmd }] of this.extra) {
      if (alive(pid) && (cmdline(pid) ?? []).join(" ") === cmd) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
  }
}
