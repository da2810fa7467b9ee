import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import type { Logger } from "../log/logger.js";
import { SUPERVISOR_PID_ENV } from "../protocol/supervisor-watch.js";
import type { EngineDriver, EngineExit, EngineHandle, EngineStartSpec } from "./engine-driver.js";
import { EngineStartError } from "./engine-driver.js";
import { listenAddress } from "./engine-layout.js";
import { isOurEngine, type PidFile, RUNTIME_MARKER, readPidFiles } from "./engine-pid-files.js";
import { createLineRouter } from "./output-lines.js";
import { assertPortFree, findFreePort } from "./ports.js";
import { isAlive, killGroup, killTree, waitForExit } from "./process-group.js";

export interface ProcessDriverOptions {
  /** Python interpreter (PYTHON, default python3). */
  python: string;
  /** The folder that holds the llm_runtime package (the repo's runtime/). */
  runtimeDir: string;
  /** Pid files go to <home>/engines, so orphans can be found after a kill -9 of the supervisor. */
  home: string;
  /** Engine port on 127.0.0.1; 0 picks a free one. */
  port: number;
  logger: Logger;
  /** Environment the engine inherits (PATH, CUDA_VISIBLE_DEVICES, ...). Our own secrets are removed from it. */
  baseEnv?: NodeJS.ProcessEnv;
}

// Never hand the gateway's secrets to the engine process.
const WITHHELD_ENV = ["AUTH_TOKEN", "VLLM_API_KEY"];

/** Runs the engine as `python3 -m llm_runtime …`, a child in its own process group. */
export class ProcessDriver implements EngineDriver {
  readonly kind = "process" as const;

  constructor(private readonly options: ProcessDriverOptions) {}

  private get pidDir(): string {
    return join(this.options.home, "engines");
  }

  async start(spec: EngineStartSpec): Promise<EngineHandle> {
    const { options } = this;
    let port = options.port;
    if (port === 0) port = await findFreePort();
    else await assertPortFree(port, "ENGINE_PORT");

    const args = [
      "-m",
      RUNTIME_MARKER,
      "--engine",
      spec.engine,
      ...spec.buildArgs(listenAddress("process", port)),
    ];
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.baseEnv ?? process.env)) {
      if (v !== undefined && !WITHHELD_ENV.includes(k)) env[k] = v;
    }
    const pythonPath = env.PYTHONPATH ? `${options.runtimeDir}:${env.PYTHONPATH}` : options.runtimeDir;
    Object.assign(env, { PYTHONPATH: pythonPath, PYTHONUNBUFFERED: "1" }, spec.env);
    // The engine stops itself once this process is no longer its parent (a runner killed with -9).
    env[SUPERVISOR_PID_ENV] = String(process.pid);

    const child = execa(options.python, args, {
      env,
      extendEnv: false,
      detached: true, // own process group: stop() signals the runtime and everything it started
      cleanup: false,
      stdin: "ignore",
      buffer: false,
      reject: false,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", () => resolve());
        child.once("error", reject);
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new EngineStartError(
        code === "ENOENT"
          ? `cannot run the engine: '${options.python}' was not found`
          : `cannot run the engine with '${options.python}': ${(err as Error).message}`,
        "install python3 (3.10+) or point PYTHON at an interpreter",
        { cause: err },
      );
    }
    const pid = child.pid;
    if (pid === undefined) throw new EngineStartError("the engine process did not start (no pid)");

    mkdirSync(this.pidDir, { recursive: true, mode: 0o700 });
    const pidFile = join(this.pidDir, `${spec.instanceId}.json`);
    const record: PidFile = { pid, instanceId: spec.instanceId, startedAt: new Date().toISOString() };
    writeFileSync(pidFile, `${JSON.stringify(record)}\n`, { mode: 0o600 });

    const out = createLineRouter(spec, "stdout");
    const err = createLineRouter(spec, "stderr");
    child.stdout?.on("data", (c: Buffer) => out.write(c));
    child.stdout?.on("end", () => out.end());
    child.stderr?.on("data", (c: Buffer) => err.write(c));
    child.stderr?.on("end", () => err.end());

    const exited: Promise<EngineExit> = child.then(
      (result) => {
        // Reap anything the runtime left in its group (vLLM workers), then forget the pid file.
        killGroup(pid, "SIGKILL");
        rmSync(pidFile, { force: true });
        return { code: result.exitCode ?? null, signal: result.signal ?? null };
      },
      () => ({ code: null, signal: null }),
    );

    options.logger.debug({ pid, port }, "engine process started");
    // One SIGTERM per engine: a second one would make vLLM give up its drain. A later stop with an earlier
    // deadline only brings the SIGKILL forward.
    let killAt = Number.POSITIVE_INFINITY;
    let killTimer: NodeJS.Timeout | undefined;
    let terminated = false;
    void exited.then(() => clearTimeout(killTimer));
    return {
      id: String(pid),
      baseUrl: `http://127.0.0.1:${port}`,
      exited,
      // The exit event, not `exited`: that waits for the output pipes, which vLLM's workers may still hold.
      running: async () => child.exitCode === null && child.signalCode === null,
      stop: async (graceMs: number) => {
        if (!isAlive(pid)) {
          await exited;
          return;
        }
        const at = Date.now() + graceMs;
        if (at < killAt) {
          killAt = at;
          clearTimeout(killTimer);
          const kill = () => {
            if (graceMs > 0) options.logger.warn({ pid, graceMs }, "engine did not stop in time; killing it");
            killTree(pid, "SIGKILL");
          };
          if (graceMs <= 0) kill();
          else killTimer = setTimeout(kill, graceMs).unref();
        }
        if (graceMs > 0 && !terminated) {
          terminated = true;
          killGroup(pid, "SIGTERM");
        }
        await exited;
      },
    };
  }

  /** Engines of ours that still run, from the pid files (those of a runner killed with -9, when none runs). */
  findRunning(): PidFile[] {
    return readPidFiles(this.pidDir).flatMap(({ record }) =>
      record && isOurEngine(record.pid) ? [record] : [],
    );
  }

  async removeOrphans(): Promise<string[]> {
    const removed: string[] = [];
    for (const { path, record } of readPidFiles(this.pidDir)) {
      if (record && isOurEngine(record.pid)) {
        killTree(record.pid, "SIGKILL");
        await waitForExit(record.pid, 5_000);
        removed.push(String(record.pid));
      }
      rmSync(path, { force: true });
    }
    return removed;
  }
}
