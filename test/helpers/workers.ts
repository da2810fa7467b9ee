import { readdirSync, readFileSync } from "node:fs";
import { waitFor } from "./cli.js";

// The HTTP worker processes of GATEWAY_WORKERS (dist/instance/http-workers/worker-main.js), found through /proc.

function isWorker(pid: number | string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("worker-main.js");
  } catch {
    return false;
  }
}

/** The worker processes of a runner: its children running worker-main.js. */
export function workerPids(runnerPid: number): number[] {
  const children = readFileSync(`/proc/${runnerPid}/task/${runnerPid}/children`, "utf8").trim();
  if (children === "") return [];
  return children.split(/\s+/).map(Number).filter(isWorker);
}

/** Live worker processes started for this home (their environment names it), whoever their parent is. */
export function workersOfHome(home: string): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d) && isWorker(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, "utf8").includes(`LLM_RUNNER_HOME=${home}`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The runner's two workers once a new one has taken the place of `victim` (killed by the test). */
export function replacedWorkers(runnerPid: number, victim: number): Promise<number[]> {
  return waitFor(
    () => {
      const now = workerPids(runnerPid);
      return now.length === 2 && !now.includes(victim) ? now : null;
    },
    20_000,
    "a new worker in place of the killed one",
  );
}
