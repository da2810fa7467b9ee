import { configFlagsHelp } from "../../config/config-flags.js";
import { formatGpuIds, replicaSlotsOf } from "../../config/replica-plan.js";
import type { Config } from "../../config/types.js";
import { type CliCommand, type CliIO, EXIT } from "../cli-command.js";
import { openConfigCommand } from "../config-command.js";
import { formatFinding, kvCacheFinding } from "../finding-line.js";
import { checkDocker, checkPython } from "./check-engine.js";
import { checkGpus, checkHome, checkModelFiles, checkPorts } from "./check-host.js";
import { checkLeftBehind } from "./check-left-behind.js";
import { checkRay } from "./check-ray.js";
import type { CheckResult } from "./check-result.js";

const HELP = `Usage: llm-runner check [--json] [config flags]

The preflight doctor: checks the configuration (the same checks as 'llm-runner flags'), the engine backend
(Docker API and NVIDIA runtime for the docker driver; python3 and the runtime for the process driver), the
GPUs and their memory against the model (the weights, and the KV cache for one MAX_MODEL_LEN sequence), the
model files, the ports, the state folder, and engines that a runner of this home left running when it died.
One line each: ✔ ok, ! warning, ✘ problem with the fix.
Exit code 0 when nothing is ✘, 2 for a bad config, 1 otherwise.

Flags:
  --json   machine-readable results
${configFlagsHelp()}

Examples:
  llm-runner check
  llm-runner check --engine sim --driver process
  DRIVER=docker ENGINE_IMAGE=localhost/llm-runner-sim:latest ENGINE=sim llm-runner check
`;

export const checkCommand: CliCommand = {
  name: "check",
  summary: "preflight doctor: config, Docker/NVIDIA or python, GPUs, model files, ports",
  help: HELP,
  async run(args, io) {
    const { flag: json, loaded } = await openConfigCommand(args, io, "json");
    const results: CheckResult[] = [];
    if (!loaded.ok) {
      for (const issue of loaded.issues) {
        results.push({
          level: "fail",
          name: "config",
          message: `${issue.variable}=${issue.value ?? "(unset)"}: ${issue.message}`,
        });
      }
    } else {
      const c = loaded.config;
      results.push({
        level: "ok",
        name: "config",
        message: `configuration valid (MODEL_ID=${c.modelId}, ENGINE=${c.engine}, DRIVER=${c.driver}, TP=${c.tensorParallelSize}, PP=${c.pipelineParallelSize})`,
      });
      const slots = replicaSlotsOf(c);
      for (const m of c.modelsFile ? (c.models ?? []) : []) {
        const where =
          m.placement.kind === "swap"
            ? `swap group ${m.placement.group} (at most ${m.placement.awake} awake, the others asleep at level ${m.placement.sleepLevel})`
            : "dedicated (always awake)";
        const mSlots = replicaSlotsOf(m.config);
        results.push({
          level: "ok",
          name: "models",
          message: `model ${m.id}: ${where}, GPU ${mSlots.map((s) => formatGpuIds(s.gpuIds)).join(" | ")}, GPU_MEMORY_UTILIZATION ${m.config.gpuMemoryUtilization}, TP=${m.config.tensorParallelSize}, MAX_NUM_SEQS ${m.config.maxNumSeqs}`,
        });
      }
      if (slots.length > 1) {
        results.push({
          level: "ok",
          name: "replicas",
          message: `${slots.length} replicas on GPU ${slots.map((s) => formatGpuIds(s.gpuIds)).join(" | ")}`,
        });
      }
    }
    for (const w of loaded.warnings) results.push({ level: "warn", name: "config", message: w });
    if (loaded.kvCache && loaded.kvCache.verdict !== "short") {
      results.push({ name: "kv-cache", ...kvCacheFinding(loaded.kvCache) });
    }
    if (loaded.ok) results.push(...(await checkSetup(loaded.config, io)));

    if (json)
      io.stdout.write(
        `${JSON.stringify({ ok: !results.some((r) => r.level === "fail"), results }, null, 2)}\n`,
      );
    else for (const r of results) io.stdout.write(formatFinding(r));
    if (!loaded.ok) return EXIT.usage;
    return results.some((r) => r.level === "fail") ? EXIT.failure : EXIT.ok;
  },
};

async function checkSetup(config: Config, io: CliIO): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  if (config.driver === "docker") results.push(...(await checkDocker(config, io.env)));
  else results.push(...(await checkPython(config, io.env)));
  // With several models: the GPUs and model files of each, named; the ports of all.
  const models = config.modelsFile ? (config.models ?? []) : [];
  const each =
    models.length > 0
      ? models.map((m) => ({ label: `${m.id}: `, config: m.config }))
      : [{ label: "", config }];
  for (const m of each) {
    const named = (r: CheckResult): CheckResult => ({ ...r, message: `${m.label}${r.message}` });
    results.push(...(await checkGpus(m.config, io.env)).map(named));
    if (m.config.distributedExecutor === "ray") results.push(named(await checkRay(m.config)));
    results.push(named(checkModelFiles(m.config, io.env)));
  }
  results.push(
    ...(await checkPorts(
      config,
      models.map((m) => m.config),
    )),
  );
  results.push(checkHome(config));
  results.push(...(await checkLeftBehind(config, io.env)));
  return results;
}
