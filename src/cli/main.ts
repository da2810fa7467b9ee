#!/usr/bin/env node
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { VERSION } from "../version.js";
import { type CliIO, EXIT, UsageError } from "./cli-command.js";
import { COMMANDS } from "./commands/index.js";
import { failIfUnsettled } from "./unsettled-exit.js";

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `llm-runner ${VERSION} — serve an LLM for pay on a GPU node (vLLM + Livepeer AI-runner /llm)

Usage: llm-runner <command> [flags]

Commands:
${lines.join("\n")}

Run 'llm-runner <command> --help' for a command's flags and examples.
Configuration comes from environment variables (see README); flags override them.
Exit codes: 0 ok, 1 runtime failure, 2 bad config or usage, 3 not running.
`;
}

export async function main(argv: string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const entry = name === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.stdout.write(entry ? `${(await entry.load()).help.trimEnd()}\n` : topHelp());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version" || name === "-v" || name === "version") {
    io.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    io.stderr.write(`llm-runner: unknown command '${name}'\n\n${topHelp()}`);
    return EXIT.usage;
  }
  const command = await entry.load();
  if (rest.includes("--help") || rest.includes("-h")) {
    io.stdout.write(`${command.help.trimEnd()}\n`);
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`llm-runner ${command.name}: ${err.message}\n\n${command.help.trimEnd()}\n`);
      return EXIT.usage;
    }
    io.stderr.write(`llm-runner ${command.name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.failure;
  }
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // `llm-runner status | head -3` closes the pipe early: that is not an error. A detached runner logs to
  // runner.log: when its disk is full or turns read-only, log lines are lost, but the runner keeps serving.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
      if (err.code === "ENOSPC" || err.code === "EDQUOT" || err.code === "EROFS" || err.code === "EIO")
        return;
      throw err;
    });
  }
  const io: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
  const run = main(process.argv.slice(2), io);
  failIfUnsettled(run, process, process.stderr, process.argv[2] ?? "");
  run.then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(
        `llm-runner: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = EXIT.failure;
    },
  );
}
