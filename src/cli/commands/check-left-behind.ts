// `check`: engines that a runner of this home left running when it died (kill -9, OOM killer, power loss of the
// host's session): they hold their GPUs until removed. Engines of a live runner are its own and not named.
import type { Config } from "../../config/types.js";
import { lockHolder } from "../../instance/home-lock.js";
import { findHomeEngines, type HomeEngines } from "../../instance/orphans.js";
import type { CheckResult } from "./check-result.js";

export async function checkLeftBehind(config: Config, env: NodeJS.ProcessEnv): Promise<CheckResult[]> {
  if (lockHolder(config.home)) return [];
  let found: HomeEngines;
  try {
    found = await findHomeEngines(config.home, env, config.driver);
  } catch {
    // The Docker API is not reachable: the docker line above says so; the pid files can still be read.
    found = await findHomeEngines(config.home, env, "process");
  }
  const named = [
    ...found.processes.map((p) => `process ${p.pid} (${p.instanceId}, started ${p.startedAt})`),
    ...found.containers.map((c) => `container ${c.name} (${c.state})`),
  ];
  if (named.length === 0) {
    return [{ level: "ok", name: "left-behind", message: "no engine left behind by a runner of this home" }];
  }
  return [
    {
      level: "warn",
      name: "left-behind",
      message: `${named.length} engine(s) left behind by a runner of this home that is gone: ${named.join(", ")}`,
      // Not a plain kill: the vLLM launcher's engine runs in a session of its own, which stop reaches too.
      fix: "llm-runner stop removes them (start does too, first)",
    },
  ];
}
