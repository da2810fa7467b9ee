import { PassThrough } from "node:stream";
import type { CliIO } from "../../src/cli/cli-command.js";

/** A CliIO whose stdout and stderr are collected, for running commands in-process in unit tests. */
export function captureIO(env: NodeJS.ProcessEnv = {}, cwd = process.cwd()) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => {
    out += d;
  });
  stderr.on("data", (d) => {
    err += d;
  });
  const io: CliIO = { stdout, stderr, env, cwd };
  return { io, out: () => out, err: () => err };
}
