// `llm-runner flags`: the operator's dry run. Loads the config exactly as `start` would and prints the engine
// command it produces, secrets masked, without starting anything.
import { configFlagsHelp } from "../../config/config-flags.js";
import { formatConfigIssues } from "../../config/config-issues.js";
import { formatKvCacheLine } from "../../config/kv-fit-check.js";
import { engineCommand, engineEnv } from "../../engine/vllm-args.js";
import { type CliCommand, EXIT } from "../cli-command.js";
import { openConfigCommand } from "../config-command.js";

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
  --json  print {"argv": [...], "env": {...}} instead of a shell line
${configFlagsHelp()}

Examples:
  llm-runner flags
  TENSOR_PARALLEL_SIZE=2 MAX_MODEL_LEN=16384 llm-runner flags
  llm-runner flags --json --model-id Qwen/Qwen2.5-0.5B-Instruct --gpu-memory-utilization 0.5
`,
  async run(args, io) {
    const { flag: json, loaded: result } = await openConfigCommand(args, io, "json");
    for (const w of result.warnings) io.stderr.write(`warning: ${w}\n`);
    // On stderr, like the warnings: stdout stays the command alone, pasteable.
    if (result.ok && result.kvCache) io.stderr.write(`note: ${formatKvCacheLine(result.kvCache)}\n`);
    if (!result.ok) {
      io.stderr.write(formatConfigIssues(result.issues));
      return EXIT.usage;
    }
    const argv = engineCommand(result.config);
    const env = engineEnv(result.config, "process", MASK);
    if (result.config.hfToken) env.HF_TOKEN = MASK;
    if (json) {
      io.stdout.write(`${JSON.stringify({ argv, env })}\n`);
    } else {
      const assignments = Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`);
      io.stdout.write(`${[...assignments, ...argv.map(shellQuote)].join(" ")}\n`);
    }
    return EXIT.ok;
  },
};
