// `llm-runner flags`: the operator's dry run. Loads the config exactly as `start` would and prints the engine
// command it produces, secrets masked, without starting anything.
import { configFlagsHelp } from "../../config/config-flags.js";
import { formatConfigIssues } from "../../config/config-issues.js";
import { formatGpuIds, replicaConfig, replicaSlotsOf } from "../../config/replica-plan.js";
import { engineCommand, engineEnv } from "../../engine/vllm-args.js";
import { type CliCommand, EXIT } from "../cli-command.js";
import { openConfigCommand } from "../config-command.js";
import { formatFinding, kvCacheFinding } from "../finding-line.js";

/** Quotes a word for POSIX shells only when it needs it. */
export function shellQuote(word: string): string {
  if (word !== "" && /^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'"'"'`)}'`;
}

const MASK = "***";

export const flagsCommand: CliCommand = {
  name: "flags",
  summary: "print the engine command the current configuration produces (dry run)",
  help: `Usage: llm-runner flags [--json] [config flags...]

Loads the configuration (environment variables, overridden by the flags below) with every check that
'llm-runner start' runs, and prints the engine command it would start: 'vllm serve ...' with the environment
the engine gets in front (secrets masked; VLLM_API_KEY is random per start). Nothing is started.
On a bad configuration it lists every problem on stderr and exits 2.

Flags:
  --json  print {"argv": [...], "env": {...}, "replicas": [{"replica", "gpus", "argv", "env"}, ...]}
          instead of shell lines (argv/env: the first engine; replicas: one per engine, see REPLICAS;
          with LLM_RUNNER_MODELS_FILE also "models": [{"model", "placement", "replicas"}, ...])
${configFlagsHelp()}

Examples:
  llm-runner flags
  TENSOR_PARALLEL_SIZE=2 MAX_MODEL_LEN=16384 llm-runner flags
  TENSOR_PARALLEL_SIZE=2 llm-runner flags --replicas auto
  llm-runner flags --json --model-id Qwen/Qwen2.5-0.5B-Instruct --gpu-memory-utilization 0.5
`,
  async run(args, io) {
    const { flag: json, loaded: result } = await openConfigCommand(args, io, "json");
    // On stderr, in check's format: stdout stays the command alone, pasteable.
    for (const w of result.warnings) io.stderr.write(formatFinding({ level: "warn", message: w }));
    if (result.ok && result.kvCache) io.stderr.write(formatFinding(kvCacheFinding(result.kvCache)));
    if (!result.ok) {
      io.stderr.write(formatConfigIssues(result.issues));
      return EXIT.usage;
    }
    // One engine per replica (REPLICAS): each with its own GPUs and port; with several models, per model.
    const several = Boolean(result.config.modelsFile);
    const models = (
      result.config.models ?? [
        { id: result.config.modelId, config: result.config, placement: { kind: "dedicated" as const } },
      ]
    ).map((m) => ({
      model: m.id,
      placement: m.placement.kind === "swap" ? `swap group ${m.placement.group}` : "dedicated",
      replicas: replicaSlotsOf(m.config).map((slot) => {
        const own = replicaConfig(m.config, slot);
        const env = engineEnv(own, "process", MASK);
        if (own.hfToken) env.HF_TOKEN = MASK;
        return { replica: slot.index, gpus: formatGpuIds(slot.gpuIds), argv: engineCommand(own), env };
      }),
    }));
    const engines = (models[0] as (typeof models)[number]).replicas;
    const first = engines[0] as (typeof engines)[number];
    if (json) {
      // argv/env: the first (or only) engine's; replicas: every engine's (of the default model); models: each one's.
      const out = { argv: first.argv, env: first.env, replicas: engines, ...(several ? { models } : {}) };
      io.stdout.write(`${JSON.stringify(out)}\n`);
    } else {
      for (const m of models) {
        for (const engine of m.replicas) {
          const head = [
            several ? `model ${m.model} (${m.placement})` : "",
            m.replicas.length > 1
              ? `replica ${engine.replica} (GPU ${engine.gpus})`
              : several
                ? `GPU ${engine.gpus}`
                : "",
          ].filter(Boolean);
          if (head.length > 0) io.stdout.write(`# ${head.join(", ")}\n`);
          const assignments = Object.entries(engine.env).map(([k, v]) => `${k}=${shellQuote(v)}`);
          io.stdout.write(`${[...assignments, ...engine.argv.map(shellQuote)].join(" ")}\n`);
        }
      }
    }
    return EXIT.ok;
  },
};
