import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { parseArgs } from "node:util";
import { resolveHome } from "../../config/resolve-home.js";
import { engineLogFile, modelEngineLog } from "../../instance/engine-logs.js";
import {
  findRunningInstance,
  instancePaths,
  readJson,
  type StatusRecord,
} from "../../instance/instance-files.js";
import { type CliCommand, EXIT, UsageError } from "../cli-command.js";

const HELP = `Usage: llm-runner logs [-f] [--engine [--model ID] [--replica N]] [-n LINES] [--home DIR]

Prints the supervisor's log (runner.log, written when started with --detach), or with --engine the engine's
own output (engine.log: vLLM's or the simulator's lines). -f keeps following until Ctrl-C or the runner stops.

Flags:
  -f, --follow        keep printing new lines
  --engine            the engine's log instead of the supervisor's
  --replica N         with --engine: replica N's engine (REPLICAS; default 0, engine.log; N: engine-N.log)
  --model ID          with --engine and LLM_RUNNER_MODELS_FILE: that model's engine (default: the first model)
  -n, --lines LINES   how many of the last lines to print first (default 100; 0 = all)
  --home DIR          the runner's state folder (default: LLM_RUNNER_HOME or ~/.llm-runner)

Examples:
  llm-runner logs -f
  llm-runner logs --engine -n 50
  llm-runner logs --engine --replica 2 -f
  llm-runner logs --engine --model Qwen/Qwen2.5-7B-Instruct
`;

export const logsCommand: CliCommand = {
  name: "logs",
  summary: "print (or follow) the supervisor's or the engine's log",
  help: HELP,
  async run(args, io) {
    let values: {
      follow?: boolean;
      engine?: boolean;
      replica?: string;
      model?: string;
      lines?: string;
      home?: string;
    };
    try {
      values = parseArgs({
        args,
        options: {
          follow: { type: "boolean", short: "f" },
          engine: { type: "boolean" },
          replica: { type: "string" },
          model: { type: "string" },
          lines: { type: "string", short: "n" },
          home: { type: "string" },
        },
        strict: true,
      }).values;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const lines = values.lines === undefined ? 100 : Number(values.lines);
    if (!Number.isInteger(lines) || lines < 0) {
      throw new UsageError(`--lines must be a whole number ≥ 0, got '${values.lines}'`);
    }
    const home = resolveHome(io.env, io.cwd, values.home);
    const paths = instancePaths(home);
    const replica = values.replica === undefined ? 0 : Number(values.replica);
    if (values.replica !== undefined && !values.engine)
      throw new UsageError("--replica picks an engine's log: use it with --engine");
    if (!Number.isInteger(replica) || replica < 0 || !/^\d+$/.test(values.replica ?? "0"))
      throw new UsageError(
        `--replica must be a replica number ≥ 0 (as 'llm-runner status' lists them), got '${values.replica}'`,
      );
    if (values.model !== undefined && !values.engine)
      throw new UsageError("--model picks a model's engine log: use it with --engine");
    const file = values.engine ? engineLogFile(modelLog(paths, values.model), replica) : paths.runnerLog;
    if (!existsSync(file)) {
      io.stderr.write(
        values.engine
          ? `no engine log at ${file}: the runner has not started ${replica === 0 ? "an engine" : `replica ${replica}`} in this home yet.\n`
          : `no runner log at ${file}: a runner started in the foreground logs to its terminal; 'llm-runner start --detach' writes this file.\n`,
      );
      return findRunningInstance(home) ? EXIT.ok : EXIT.notRunning;
    }
    let offset = printTail(file, lines, io.stdout);
    if (!values.follow) return EXIT.ok;

    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const size = statSync(file, { throwIfNoEntry: false })?.size ?? 0;
        if (size < offset) offset = 0; // the file was truncated (a new start)
        if (size > offset) offset = copyRange(file, offset, size, io.stdout);
        if (!findRunningInstance(home)) {
          clearInterval(timer);
          resolve();
        }
      }, 250);
      process.once("SIGINT", () => {
        clearInterval(timer);
        resolve();
      });
    });
    return EXIT.ok;
  },
};

/** Prints the last `lines` lines (all when 0); returns the file size read up to. */
function printTail(file: string, lines: number, out: NodeJS.WritableStream): number {
  const size = statSync(file).size;
  const window = lines === 0 ? size : Math.min(size, lines * 400 + 4096);
  const buf = readRange(file, size - window, size);
  let text = buf.toString("utf8");
  if (lines > 0) {
    const all = text.split("\n");
    if (all.at(-1) === "") all.pop();
    const keep = all.slice(-lines);
    text = keep.length ? `${keep.join("\n")}\n` : "";
  }
  out.write(text);
  return size;
}

function copyRange(file: string, from: number, to: number, out: NodeJS.WritableStream): number {
  out.write(readRange(file, from, to));
  return to;
}

function readRange(file: string, from: number, to: number): Buffer {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(to - from);
    readSync(fd, buf, 0, buf.length, from);
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** The engine log of the model named by --model: its place in the models file, as status.json lists them. */
function modelLog(paths: ReturnType<typeof instancePaths>, model: string | undefined): string {
  if (model === undefined) return paths.engineLog;
  const ids = readJson<StatusRecord>(paths.status)?.models?.map((m) => m.id) ?? [];
  const at = ids.indexOf(model);
  if (at === -1)
    throw new UsageError(
      ids.length === 0
        ? `--model ${model}: this runner serves one model (no LLM_RUNNER_MODELS_FILE); leave --model out`
        : `--model ${model}: not a model of this runner; its models are ${ids.join(", ")}`,
    );
  return modelEngineLog(paths.engineLog, at);
}
