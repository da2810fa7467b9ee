import { homedir } from "node:os";
import path from "node:path";
import { expandPath } from "./env-checks.js";

/**
 * LLM_RUNNER_HOME for commands that do not load the whole config (stop, status, logs, usage): the --home flag,
 * else the variable, else ~/.llm-runner. Paths read as the config schema reads them (env-checks.ts expandPath):
 * "~" and "~/x" expand to HOME, a relative path resolves against cwd.
 */
export function resolveHome(env: NodeJS.ProcessEnv, cwd: string, flag?: string | null): string {
  const home = env.HOME || homedir();
  const raw = flag ?? env.LLM_RUNNER_HOME ?? "";
  if (raw.trim() === "") return path.join(home, ".llm-runner");
  return expandPath(raw, { home, cwd }) ?? path.resolve(cwd, raw);
}
