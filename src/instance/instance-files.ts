import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isAlive } from "../engine/process-group.js";
import type { LiveRunnerSnapshot } from "../livepeer/live-runner/live-runner-agent.js";
import type { LiveRunnerOffer } from "../livepeer/live-runner/live-runner-port.js";
import type { ReplicaSnapshot } from "../supervisor/replica-set.js";
import type { ModelFigures, SupervisorSnapshot } from "../supervisor/types.js";

// Files a running instance keeps in LLM_RUNNER_HOME, so other CLI invocations can find and talk to it:
//   instance.json   who is running (pid, url, ...): written at start, removed at a clean stop
//   status.json     the latest supervisor snapshot and counters, rewritten on every change
//   runner.log      the supervisor's log when started with --detach
//   engine.log      the engine's output

export interface InstanceRecord {
  pid: number;
  url: string; // the gateway's URL, e.g. http://127.0.0.1:8000
  host: string;
  port: number;
  engine: "vllm" | "sim";
  driver: "docker" | "process";
  modelId: string;
  instanceId: string;
  startedAt: string;
  logFile: string | null;
  engineLogFile: string;
  version: string;
}

export interface StatusRecord {
  updatedAt: string;
  snapshot: SupervisorSnapshot;
  gpus: string;
  /** Each replica's snapshot (REPLICAS > 1). */
  replicas?: ReplicaSnapshot[];
  /** The HTTP worker processes' pids (GATEWAY_WORKERS > 1). */
  workers?: number[];
  /** The Live Runner registration (LIVE_RUNNER_ORCH_URL set). */
  liveRunner?: LiveRunnerSnapshot;
  /** Several models with LIVE_RUNNER_ORCH_URL: each model's own registration (then no `liveRunner`). */
  liveRunners?: LiveRunnerOffer[];
  /** Several models (LLM_RUNNER_MODELS_FILE): each one's state, last use and wakes. */
  models?: ModelFigures[];
  totals: {
    requests: number;
    promptTokens: number;
    completionTokens: number;
    quoted: number;
    usage: number;
    currency: string;
  };
}

export function instancePaths(home: string) {
  return {
    instance: join(home, "instance.json"),
    status: join(home, "status.json"),
    runnerLog: join(home, "runner.log"),
    engineLog: join(home, "engine.log"),
    reload: join(home, "reload.json"),
    ledger: join(home, "ledger.sqlite"),
  };
}

/** Writes atomically (temp file + rename), so a reader never sees half a file. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

export function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return null;
  }
}

/** The running instance of this home, or null (a record whose process is gone is stale and ignored). */
export function findRunningInstance(home: string): InstanceRecord | null {
  const record = readJson<InstanceRecord>(instancePaths(home).instance);
  if (!record || !Number.isInteger(record.pid) || !isAlive(record.pid)) return null;
  return record;
}

export function writeInstance(home: string, record: InstanceRecord): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  writeJsonAtomic(instancePaths(home).instance, record);
}

export function removeInstance(home: string, pid: number): void {
  const paths = instancePaths(home);
  const record = readJson<InstanceRecord>(paths.instance);
  if (record && record.pid !== pid) return; // someone else's
  rmSync(paths.instance, { force: true });
}
