import { homedir } from "node:os";
import { join, resolve } from "node:path";

/**
 * LLM_RUNNER_HOME for commands that do not need the whole config (stop, status, logs, usage):
 * the --home flag, else the variable, else ~/.llm-runner. "~" is expanded.
 */
export function resolveHome(env: NodeJS.ProcessEnv, flag?: string): string {
  const raw = flag ?? env.LLM_RUNNER_HOME ?? "";
  if (raw.trim() === "") return join(env.HOME ?? homedir(), ".llm-runner");
  const expanded = raw.startsWith("~/") || raw === "~" ? join(env.HOME ?? homedir(), raw.slice(1)) : raw;
  return resolve(expanded);
}
