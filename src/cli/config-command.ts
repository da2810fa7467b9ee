// The opening that `check`, `start` and `flags` share: the config flags (--model-id …) are split off, the
// command's one flag of its own (--json, --detach) is read, and the whole config is loaded and checked.
import { splitConfigFlags } from "../config/config-flags.js";
import { type ConfigSource, loadConfigFrom } from "../config/config-source.js";
import { ENV_FILE_VARIABLE } from "../config/env-file.js";
import type { LoadConfigResult } from "../config/load-config.js";
import { UsageError } from "../config/usage-error.js";
import type { CliIO } from "./cli-command.js";

type ConfigOverrides = Record<string, string>;

export interface OpenedConfigCommand {
  /** Whether the command's own flag was given. */
  flag: boolean;
  overrides: ConfigOverrides;
  /** Where the config came from: what `reload` reads again. */
  source: ConfigSource;
  loaded: LoadConfigResult;
}

export async function openConfigCommand(
  args: string[],
  io: CliIO,
  ownFlag: "json" | "detach",
): Promise<OpenedConfigCommand> {
  const { overrides, rest } = splitConfigFlags(args);
  let flag = false;
  let envFile = io.env[ENV_FILE_VARIABLE] || null;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    if (arg === "--env-file" || arg.startsWith("--env-file=")) {
      const value = arg === "--env-file" ? rest[++i] : arg.slice("--env-file=".length);
      if (!value) throw new UsageError("--env-file needs a file, e.g. --env-file /etc/llm-runner.env");
      envFile = value;
    } else if (arg === `--${ownFlag}`) flag = true;
    else if (arg.startsWith("-")) throw new UsageError(`unknown flag '${arg}'`);
    else throw new UsageError(`unexpected argument '${arg}' (this command takes flags only)`);
  }
  const source: ConfigSource = { env: io.env, overrides, envFile, cwd: io.cwd };
  return { flag, overrides, source, loaded: await loadConfigFrom(source) };
}

/** Loads the config as the command's opening did (start loads it again after stopping a stale instance). */
export function loadConfigFor(
  io: CliIO,
  overrides: ConfigOverrides,
  envFile: string | null = null,
): Promise<LoadConfigResult> {
  return loadConfigFrom({ env: io.env, overrides, envFile, cwd: io.cwd });
}
