// The one interface the supervisor uses to run an engine. Two adapters implement it:
// docker-driver.ts (dockerode) and process-driver.ts (execa). The supervisor never imports either library.
import type { LifecycleEvent } from "../protocol/lifecycle.js";

/** Where the engine should listen, decided by the driver (a free local port, or 0.0.0.0:8000 in a container). */
export interface ListenAddress {
  host: string;
  port: number;
}

export interface EngineStartSpec {
  /** Our instance id: labels the container / names the pid file, so orphans can be found later. */
  instanceId: string;
  engine: "vllm" | "sim";
  /** The `vllm serve` arguments (without "vllm serve"), for the address the driver picked. */
  buildArgs(listen: ListenAddress): string[];
  /** Extra environment for the engine (VLLM_API_KEY, HF_TOKEN, ...). Never put secrets in args. */
  env: Record<string, string>;
  /** Model id, for labels and log context. */
  modelId: string;
  /** Every output line that is not a lifecycle line (stdout and stderr, demultiplexed). */
  onLog(line: string, stream: "stdout" | "stderr"): void;
  /** Lifecycle lines parsed from the runtime's stdout. */
  onEvent(event: LifecycleEvent): void;
}

export interface EngineExit {
  /** Exit code when the engine exited by itself, null when killed by a signal. */
  code: number | null;
  signal: string | null;
}

export interface EngineHandle {
  /** Container id or process id, for logs and the CLI. */
  readonly id: string;
  /** Base URL of the engine's HTTP API on this host, e.g. http://127.0.0.1:41233 */
  readonly baseUrl: string;
  /** Resolves once when the engine has exited (by itself or because we stopped it). Never rejects. */
  readonly exited: Promise<EngineExit>;
  /** SIGTERM, wait up to graceMs, then SIGKILL; removes the container / reaps the group. Idempotent. */
  stop(graceMs: number): Promise<void>;
  /** Whether the engine runs now, asked of the process or container (`exited` may settle a little later). */
  running(): Promise<boolean>;
}

export interface EngineDriver {
  readonly kind: "docker" | "process";
  /** Starts the engine; resolves as soon as it runs (not when it is ready). Rejects with EngineStartError. */
  start(spec: EngineStartSpec): Promise<EngineHandle>;
  /** Finds engines of ours left by a previous supervisor that died (container label / pid files) and removes them. */
  removeOrphans(): Promise<string[]>;
}

/** Thrown by a driver when the engine cannot be started at all (image missing, python missing, ...). */
export class EngineStartError extends Error {
  override readonly name = "EngineStartError";
  constructor(
    message: string,
    readonly hint?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
