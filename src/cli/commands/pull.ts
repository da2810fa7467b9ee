// `llm-runner pull [MODEL_ID]`: downloads the files vLLM loads into MODEL_DIR in the Hugging Face cache layout.
import { homedir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { z } from "zod";
import { splitConfigFlags } from "../../config/config-flags.js";
import { formatConfigIssues, maskSecret } from "../../config/config-issues.js";
import { envSchema } from "../../config/env-schema.js";
import { defaultHubCache } from "../../config/load-config.js";
import { isDir } from "../../config/model-info.js";
import type { ConfigIssue } from "../../config/types.js";
import { type CliCommand, EXIT, UsageError } from "../cli-command.js";
import { runPull } from "../run-pull.js";

const HELP = `Usage: llm-runner pull [MODEL_ID] [--model-dir <dir>]

Downloads a model from the Hugging Face hub into MODEL_DIR, in the cache layout vLLM and huggingface_hub read
(models--ORG--NAME/blobs, snapshots/<commit>/ links, refs/main). Only the files vLLM loads are fetched: config,
tokenizer and generation config, and the weights (*.safetensors and their index; .bin/.pt only when the repo has
no safetensors; never original/). Every file's size and hash (the hub's SHA-256 for LFS files) is checked.
Free disk space is checked before the first byte. Files come side by side, and files over 32 MiB in parts
side by side (Range requests), PULL_CONCURRENCY connections in all. A rate limit (429), a server error
(500/502/503/504) or a dropped connection is retried up to 5 times with waits (the server's Retry-After when it
gives one). Ctrl-C loses nothing: run the same command again and it resumes (finished files and parts are kept,
partial ones continue with a Range request).
'llm-runner start' runs this first when the model is missing, then starts the engine with HF_HUB_OFFLINE=1.

Arguments and flags:
  MODEL_ID             a Hugging Face repo id (default: the MODEL_ID variable, else ${"meta-llama/Meta-Llama-3.1-8B-Instruct"})
  --model-dir <dir>    sets MODEL_DIR (default: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub)

Environment:
  HF_TOKEN             read token for gated or private models (accept the model's licence on its hub page first)
  HF_ENDPOINT          the hub's URL (default https://huggingface.co), e.g. a mirror
  PULL_CONCURRENCY     connections at once, for files side by side and parts of large files (default 8)

Exit codes: 0 downloaded (or already there), 1 failed (the message says why and how to fix it), 2 bad usage,
130 interrupted (run again to resume).

Examples:
  llm-runner pull Qwen/Qwen2.5-0.5B-Instruct
  HF_TOKEN=hf_... llm-runner pull meta-llama/Meta-Llama-3.1-8B-Instruct --model-dir /mnt/models
`;

const READS = ["MODEL_ID", "MODEL_DIR", "HF_TOKEN", "HF_ENDPOINT", "PULL_CONCURRENCY"] as const;

export const pullCommand: CliCommand = {
  name: "pull",
  summary: "download a model (only what vLLM loads) into MODEL_DIR, with progress and resume",
  help: HELP,
  async run(args, io) {
    const { overrides, rest } = splitConfigFlags(args);
    let positionals: string[];
    try {
      positionals = parseArgs({ args: rest, options: {}, strict: true, allowPositionals: true }).positionals;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (positionals.length > 1) throw new UsageError(`expected one MODEL_ID, got ${positionals.length}`);
    const unrelated = Object.keys(overrides).filter((k) => k !== "MODEL_ID" && k !== "MODEL_DIR");
    if (unrelated.length > 0)
      throw new UsageError(`pull only takes --model-id and --model-dir (got ${unrelated.join(", ")})`);
    if (positionals[0] !== undefined) overrides.MODEL_ID = positionals[0];

    const home = io.env.HOME || homedir();
    const shape = envSchema({ home, cwd: io.cwd }, isDir).shape;
    const values: Record<string, unknown> = {};
    const issues: ConfigIssue[] = [];
    for (const name of READS) {
      const raw = Object.hasOwn(overrides, name) ? overrides[name] : io.env[name];
      const parsed = (shape[name] as z.ZodType).safeParse(raw);
      if (parsed.success) values[name] = parsed.data;
      else
        for (const issue of parsed.error.issues)
          issues.push({
            variable: name,
            value: name === "HF_TOKEN" ? maskSecret(raw) : raw,
            message: issue.message,
          });
    }
    if (issues.length > 0) {
      io.stderr.write(formatConfigIssues(issues));
      return EXIT.usage;
    }
    const repo = values.MODEL_ID as string;
    if (path.isAbsolute(repo)) {
      throw new UsageError(`${repo} is a local folder, not a Hugging Face repo id: there is nothing to pull`);
    }
    const cacheDir = (values.MODEL_DIR as string | null) ?? defaultHubCache(io.env, home);
    io.stderr.write(`pulling ${repo} from ${values.HF_ENDPOINT as string} into ${cacheDir}\n`);
    const outcome = await runPull({
      repo,
      cacheDir,
      endpoint: values.HF_ENDPOINT as string,
      token: values.HF_TOKEN as string | null,
      concurrency: values.PULL_CONCURRENCY as number,
      out: io.stderr,
      env: io.env,
    });
    if (!outcome.ok) return outcome.code;
    io.stdout.write(`${outcome.result.snapshotDir}\n`);
    return EXIT.ok;
  },
};
