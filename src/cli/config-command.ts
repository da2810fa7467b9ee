// The opening that `check`, `start` and `flags` share: the config flags (--model-id …) are split off, the
// command's one flag of its own (--json, --detach) is read, and the whole config is loaded and checked.
import { splitConfigFlags } from "../config/config-flags.js";
import { readHostEnv } from "../config/host-env.js";
import { type LoadConfigResult, loadConfig } from "../config/load-config.js";
import { UsageError } from "../config/usage-error.js";
import { gpuProbeFor } from "../gpu/probe-from-env.js";
import type { CliIO } from "./cli-command.js";

type ConfigOverrides = Record<string, string>;

export interface OpenedConfigCommand {
  /** Whether the command's own flag was given. */
  flag: boolean;
  overrides: ConfigOverrides;
  loaded: LoadConfigResult;
}

export async function openConfigCommand(
  args: string[],
  io: CliIO,
  ownFlag: "json" | "detach",
): Promise<OpenedConfigCommand> {
  const { overrides, rest } = splitConfigFlags(args);
  let flag = false;
  for (const arg of rest) {
    if (arg === `--${ownFlag}`) flag = true;
    else if (arg.startsWith("-")) throw new UsageError(`unknown flag '${arg}'`);
    else throw new UsageError(`unexpected argument '${arg}' (this command takes flags only)`);
  }
  return { flag, overrides, loaded: await loadConfigFor(io, overrides) };
}

/** Loads the config as the command's opening did (start loads it again after stopping a stale instance). */
export function loadConfigFor(io: CliIO, overrides: ConfigOverrides): Promise<LoadConfigResult> {
  return loadConfig({
    env: io.env,
    overrides,
    gpuProbe: gpuProbeFor(readHostEnv(io.env).fakeGpusFile),
    cwd: io.cwd,
  });
}
