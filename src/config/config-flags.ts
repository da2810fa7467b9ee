// CLI flags that override environment variables. One table: the flag, the variable it sets, and whether it
// takes a value. Commands split these off their argv and pass them to loadConfig as overrides.

import type { EnvName } from "./env-schema.js";
import { UsageError } from "./usage-error.js";

export interface ConfigFlag {
  flag: string;
  env: EnvName;
  boolean?: true; // "--use-8bit" alone means true; "--use-8bit=false" is accepted too
}

export const CONFIG_FLAGS: readonly ConfigFlag[] = [
  { flag: "--model-id", env: "MODEL_ID" },
  { flag: "--model-dir", env: "MODEL_DIR" },
  { flag: "--use-8bit", env: "USE_8BIT", boolean: true },
  { flag: "--tensor-parallel-size", env: "TENSOR_PARALLEL_SIZE" },
  { flag: "--pipeline-parallel-size", env: "PIPELINE_PARALLEL_SIZE" },
  { flag: "--max-model-len", env: "MAX_MODEL_LEN" },
  { flag: "--max-num-batched-tokens", env: "MAX_NUM_BATCHED_TOKENS" },
  { flag: "--max-num-seqs", env: "MAX_NUM_SEQS" },
  { flag: "--gpu-memory-utilization", env: "GPU_MEMORY_UTILIZATION" },
  { flag: "--port", env: "PORT" },
  { flag: "--host", env: "HOST" },
  { flag: "--engine", env: "ENGINE" },
  { flag: "--driver", env: "DRIVER" },
  { flag: "--engine-image", env: "ENGINE_IMAGE" },
  { flag: "--gpu-ids", env: "GPU_IDS" },
  { flag: "--engine-port", env: "ENGINE_PORT" },
  { flag: "--replicas", env: "REPLICAS" },
  { flag: "--router", env: "ROUTER" },
  { flag: "--gateway-workers", env: "GATEWAY_WORKERS" },
  { flag: "--home", env: "LLM_RUNNER_HOME" },
  // Not the secret: a flag shows in `ps` to every user of the machine.
  { flag: "--live-runner-orch-url", env: "LIVE_RUNNER_ORCH_URL" },
  { flag: "--live-runner-url", env: "LIVE_RUNNER_URL" },
  { flag: "--live-runner-mode", env: "LIVE_RUNNER_MODE" },
  { flag: "--live-runner-price-usd-per-hour", env: "LIVE_RUNNER_PRICE_USD_PER_HOUR" },
  { flag: "--live-runner-label", env: "LIVE_RUNNER_LABEL" },
  { flag: "--live-runner-app", env: "LIVE_RUNNER_APP" },
];

/** The flag that sets an environment variable, if there is one. */
export function flagForEnv(env: string): string | undefined {
  return CONFIG_FLAGS.find((f) => f.env === env)?.flag;
}

/** Help text listing the config flags, for commands' --help. */
export function configFlagsHelp(): string {
  const width = Math.max(...CONFIG_FLAGS.map((f) => f.flag.length + (f.boolean ? 0 : 8)));
  return CONFIG_FLAGS.map(
    (f) => `  ${(f.boolean ? f.flag : `${f.flag} <value>`).padEnd(width)}  sets ${f.env}`,
  ).join("\n");
}

/**
 * Splits config flags (as `--flag value` or `--flag=value`) from the rest of argv. Everything after a bare
 * "--" is left alone. Throws UsageError when a config flag is missing its value.
 */
export function splitConfigFlags(args: string[]): { overrides: Record<string, string>; rest: string[] } {
  const overrides: Record<string, string> = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--") {
      rest.push(...args.slice(i));
      break;
    }
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const def = CONFIG_FLAGS.find((f) => f.flag === name);
    if (!def) {
      rest.push(arg);
      continue;
    }
    if (eq >= 0) {
      overrides[def.env] = arg.slice(eq + 1);
    } else if (def.boolean) {
      overrides[def.env] = "true";
    } else {
      const next = args[i + 1];
      if (next === undefined || next.startsWith("--")) {
        throw new UsageError(`${def.flag} needs a value (sets ${def.env}), e.g. ${def.flag}=VALUE`);
      }
      overrides[def.env] = next;
      i++;
    }
  }
  return { overrides, rest };
}
