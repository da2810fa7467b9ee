// Where a runner's config comes from, kept so `reload` can read it again the way `start` did: the environment
// captured at start, an optional env file read afresh each time (it wins over the environment), and the CLI
// flags given to start (they win over both).
import { gpuProbeFor } from "../gpu/probe-from-env.js";
import type { GpuProbe } from "../gpu/types.js";
import { readEnvFile } from "./env-file.js";
import { readHostEnv } from "./host-env.js";
import { type LoadConfigResult, loadConfig } from "./load-config.js";
import { loadModelList } from "./model-list.js";
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
  const input = {
    env,
    overrides: source.overrides,
    gpuProbe: onceProbe(gpuProbeFor(readHostEnv(env).fakeGpusFile)),
    cwd: source.cwd,
  };
  const base = await loadConfig(input);
  // One model: no `models` list (it would point back at its own config, which goes to HTTP workers as JSON).
  if (!base.ok || !base.config.modelsFile) return base;
  // Several models: each entry's config is the runner's with its engine settings on top; the first is the default.
  const list = await loadModelList(base.config.modelsFile, input);
  // A runner-wide warning (AUTH_TOKEN, HOST...) once, not once more per model.
  const warnings = [
    ...base.warnings,
    ...list.warnings.filter((w) => !base.warnings.some((b) => w.endsWith(`: ${b}`))),
  ];
  if (env.MODEL_ID !== undefined || source.overrides.MODEL_ID !== undefined)
    warnings.push(
      "MODEL_ID is ignored: LLM_RUNNER_MODELS_FILE names the models (the first is the default one).",
    );
  const first = list.models[0];
  if (list.issues.length > 0 || first === undefined) return { ok: false, issues: list.issues, warnings };
  return {
    ok: true,
    config: { ...first.config, modelsFile: base.config.modelsFile, models: list.models },
    warnings,
  };
}

/** One nvidia-smi run for the runner and all its models. */
function onceProbe(probe: GpuProbe): GpuProbe {
  let listed: ReturnType<GpuProbe["list"]> | null = null;
  return {
    list() {
      listed ??= probe.list();
      return listed;
    },
  };
}
