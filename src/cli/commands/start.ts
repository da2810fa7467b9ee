import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { configFlagsHelp } from "../../config/config-flags.js";
import { formatConfigIssues } from "../../config/config-issues.js";
import type { ConfigSource } from "../../config/config-source.js";
import { DETACHED_VARIABLE, readHostEnv } from "../../config/host-env.js";
import type { Config } from "../../config/types.js";
import { lockHolder } from "../../instance/home-lock.js";
import { assertHomeWritable } from "../../instance/home-writable.js";
import {
  findRunningInstance,
  type InstanceRecord,
  instancePaths,
  readJson,
  type StatusRecord,
} from "../../instance/instance-files.js";
import { runInstance } from "../../instance/run-instance.js";
import { createLogger } from "../../log/logger.js";
import { type CliCommand, type CliIO, EXIT } from "../cli-command.js";
import { loadConfigFor, openConfigCommand } from "../config-command.js";
import { modelToPull, pullBeforeEngine } from "../ensure-model.js";
import { formatFinding } from "../finding-line.js";
import { failedLine, ProgressView, readyLine } from "../progress.js";

const HELP = `Usage: llm-runner start [flags]

Starts the engine (vLLM, or the simulator) under the supervisor, and the gateway in front of it. Runs in the
foreground and logs to stdout (readable lines on a terminal, JSON lines otherwise); loading progress and the
URL to call go to stderr. With ENGINE=vllm and a hub model that is not in MODEL_DIR yet, it first pulls the model
(as 'llm-runner pull' does, with progress), then runs the engine with HF_HUB_OFFLINE=1.
Ctrl-C (or SIGTERM) drains in-flight requests and stops; a second Ctrl-C forces. SIGHUP (or 'llm-runner
reload') reads the configuration again and restarts the engines one replica at a time.

Flags:
  --detach                  start in the background; return once the engine is ready (or failed, with why)
  --env-file FILE           NAME=value lines read over the environment (also LLM_RUNNER_ENV_FILE); read
                            again by 'llm-runner reload'
${configFlagsHelp()}

Examples:
  llm-runner start --engine sim --driver process          # no GPU needed: the simulator engine
  llm-runner start --detach --engine sim --driver process --port 8000
  MODEL_ID=meta-llama/Meta-Llama-3.1-8B-Instruct HF_TOKEN=hf_... llm-runner start   # vLLM in Docker
`;

export const startCommand: CliCommand = {
  name: "start",
  summary: "start the engine and the gateway (foreground, or --detach)",
  help: HELP,
  async run(args, io) {
    const { flag: detach, overrides, source, loaded } = await openConfigCommand(args, io, "detach");
    if (!loaded.ok) {
      io.stderr.write(`${formatConfigIssues(loaded.issues)}\n`);
      return EXIT.usage;
    }
    const { config, warnings } = loaded;

    try {
      assertHomeWritable(config.home);
    } catch (err) {
      io.stderr.write(`llm-runner start: ${(err as Error).message}\n`);
      return EXIT.failure;
    }
    const running = findRunningInstance(config.home);
    // runner.lock names a runner still starting (instance.json is written once its gateway listens).
    const holder = running ? null : lockHolder(config.home);
    if (running || holder) {
      const who = running
        ? `pid ${running.pid}, ${running.url}`
        : `pid ${holder?.pid}, starting since ${holder?.startedAt}`;
      io.stderr.write(
        `llm-runner is already running for ${config.home} (${who}).\n` +
          "Stop it first with 'llm-runner stop', or use another LLM_RUNNER_HOME and PORT.\n",
      );
      return EXIT.failure;
    }
    // A model not downloaded yet is pulled by the runner itself, its gateway answering LOADING meanwhile; the
    // engine then starts offline. The model-aware checks skipped without the model run once it is there.
    // With several models (LLM_RUNNER_MODELS_FILE), each one missing is pulled in turn.
    const recheck = () => loadConfigFor(io, overrides, source.envFile);
    const pulls = (config.modelsFile ? (config.models ?? []).map((m) => m.config) : [config]).flatMap(
      (own) => {
        const cacheDir = modelToPull(own, io.env);
        if (cacheDir === null) return [];
        own.hubOffline = true;
        return [pullBeforeEngine(own, cacheDir, io, recheck)];
      },
    );
    if (pulls.length > 0) config.hubOffline = config.models?.[0]?.config.hubOffline ?? true;
    const prepare = pulls.length === 0 ? null : inTurn(pulls);
    for (const w of warnings) io.stderr.write(formatFinding({ level: "warn", message: w }));
    return detach ? startDetached(args, config, io) : startForeground(config, io, source, prepare);
  },
};

/** Several preparations (one pull per model) as one step, one after another. */
function inTurn(steps: Array<ReturnType<typeof pullBeforeEngine>>): ReturnType<typeof pullBeforeEngine> {
  return (logger) => {
    const made = steps.map((step) => step(logger));
    return {
      async run(report, signal) {
        for (const step of made) await step.run(report, signal);
      },
    };
  };
}

async function startForeground(
  config: Config,
  io: CliIO,
  source: ConfigSource,
  prepare: ReturnType<typeof pullBeforeEngine> | null,
): Promise<number> {
  const progress = new ProgressView(io.stderr);
  const logOut = {
    isTTY: io.stdout.isTTY === true,
    write: (chunk: string) => {
      progress.interrupt(() => io.stdout.write(chunk));
      return true;
    },
  } as unknown as NodeJS.WritableStream & { isTTY?: boolean };
  const logger = createLogger({ level: config.logLevel, out: logOut });
  const detached = readHostEnv(io.env).detached;

  let instance: Awaited<ReturnType<typeof runInstance>>;
  try {
    instance = await runInstance({
      config,
      logger,
      env: io.env,
      source,
      ...(prepare ? { prepare: prepare(logger) } : {}),
      logFile: detached ? instancePaths(config.home).runnerLog : null,
      onEvent: (event) => {
        progress.onEvent(event);
        if (event.type !== "state") return;
        if (event.to === "ready") {
          progress.interrupt(() => io.stderr.write(`${readyLine(instance.url, event.snapshot)}\n`));
        } else if (event.to === "failed") {
          io.stderr.write(
            `${failedLine(event.snapshot)}\n/health now reports ERROR. Press Ctrl-C to exit.\n`,
          );
        }
      },
    });
  } catch (err) {
    io.stderr.write(`llm-runner start: ${(err as Error).message}\n`);
    return EXIT.failure;
  }
  const first = prepare
    ? `downloading ${config.modelsFile ? "the missing models" : config.modelId} first, then `
    : "";
  io.stderr.write(
    `gateway listening on ${config.host}:${instance.record.port}; ${first}starting the ${config.engine} engine (${config.driver})…\n`,
  );

  let exitCode: number = EXIT.ok;
  await new Promise<void>((resolve) => {
    void instance.stoppedByItself.then((reason) => {
      io.stderr.write(`llm-runner: ${reason}\n`);
      exitCode = EXIT.failure;
      void instance.shutdown().then(resolve);
    });
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        io.stderr.write(`\n${sig}: draining in-flight requests (Ctrl-C again to force)…\n`);
        void instance.shutdown().then(resolve);
      } else {
        io.stderr.write(`\n${sig} again: stopping now.\n`);
        void instance.shutdown({ force: true }).then(resolve);
      }
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    // SIGHUP (llm-runner reload): read the config again and roll the replicas onto it, one at a time.
    process.on("SIGHUP", () => {
      io.stderr.write("SIGHUP: reloading the configuration…\n");
      void instance.reload().then((outcome) => {
        io.stderr.write(`reload ${outcome.state}: ${outcome.message}\n`);
        if (outcome.state === "invalid") io.stderr.write(formatConfigIssues(outcome.issues));
      });
    });
  });
  return exitCode;
}

/** Re-runs `start` in the background (logs to runner.log) and waits until its engine is ready or failed. */
async function startDetached(args: string[], config: Config, io: CliIO): Promise<number> {
  const paths = instancePaths(config.home);
  mkdirSync(config.home, { recursive: true, mode: 0o700 });
  const logFd = openSync(paths.runnerLog, "a", 0o600);
  const mainJs = fileURLToPath(new URL("../main.js", import.meta.url));
  const child = spawn(process.execPath, [mainJs, "start", ...args.filter((a) => a !== "--detach")], {
    env: { ...io.env, [DETACHED_VARIABLE]: "1" },
    cwd: io.cwd,
    detached: true,
    stdio: ["ignore", logFd, logFd],
  });
  closeSync(logFd);
  child.unref();
  let exitCode: number | null = null;
  child.once("exit", (code, signal) => {
    exitCode = code ?? (signal ? 128 : 1);
  });

  const progress = new ProgressView(io.stderr);
  io.stderr.write(`started llm-runner in the background (pid ${child.pid}); log: ${paths.runnerLog}\n`);
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    if (exitCode !== null) {
      progress.clear();
      io.stderr.write(
        `llm-runner exited while starting (exit code ${exitCode}). Last log lines:\n${tail(paths.runnerLog, 20)}\n`,
      );
      return EXIT.failure;
    }
    const instance = readJson<InstanceRecord>(paths.instance);
    const status = readJson<StatusRecord>(paths.status);
    if (!instance || instance.pid !== child.pid || !status) continue;
    const snap = status.snapshot;
    if (snap.state === "loading" && snap.progress !== null)
      progress.show(snap.progress, snap.progressDetail ?? "");
    if (snap.state === "ready") {
      progress.clear();
      io.stdout.write(
        `${readyLine(instance.url, snap)}\n  logs: llm-runner logs -f    stop: llm-runner stop\n`,
      );
      return EXIT.ok;
    }
    if (snap.state === "failed") {
      progress.clear();
      io.stderr.write(`${failedLine(snap)}\nstopping the background instance…\n`);
      if (child.pid) process.kill(child.pid, "SIGTERM");
      const deadline = Date.now() + 60_000;
      while (exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      return EXIT.failure;
    }
  }
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
