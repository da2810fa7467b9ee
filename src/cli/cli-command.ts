// The contract every CLI command implements. Commands live in src/cli/commands/<name>.ts and are listed in
// src/cli/commands/index.ts. They get their I/O and environment passed in so tests can run them in-process.

export const EXIT = {
  ok: 0,
  failure: 1, // runtime failure
  usage: 2, // bad config, bad flags or arguments
  notRunning: 3,
} as const;

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface CliCommand {
  name: string;
  summary: string; // one line for `llm-runner --help`
  help: string; // full `llm-runner <name> --help` text, with examples
  run(args: string[], io: CliIO): Promise<number>;
}

export { UsageError } from "../config/usage-error.js";
