// Where a runner's config comes from, kept so `reload` can read it again the way `start` did: the environment
// captured at start, an optional env file read afresh each time (it wins over the environment), and the CLI
// flags given to start (they win over both).
import { gpuProbeFor } from "../gpu/probe-from-env.js";
import { readEnvFile } from "./env-file.js";
import { readHostEnv } from "./host-env.js";
import { type LoadConfigResult, loadConfig } from "./load-config.js";
import { UsageError } from "./usage-error.js";

export interface ConfigSource {
  env: NodeJS.ProcessEnv;
  overrides: Record<string, string>;
  envFile: string | null;
  cwd: string;
}

/** Loads and checks the config from its sources; an unreadable or malformed env file is an issue like any other. */
export async function loadConfigFrom(source: ConfigSource): Promise<LoadConfigResult> {
  let env = source.env;
  if (source.envFile) {
    try {
      env = { ...source.env, ...readEnvFile(source.envFile, source.cwd) };
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      return {
        ok: false,
        issues: [{ variable: "--env-file", value: source.envFile, message: err.message }],
        warnings: [],
      };
    }
  }
  return loadConfig({
    env,
    overrides: source.overrides,
    gpuProbe: gpuProbeFor(readHostEnv(env).fakeGpusFile),
    cwd: source.cwd,
  });
}
