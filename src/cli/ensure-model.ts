// `start`'s hook: when ENGINE=vllm serves a hub model that is not in the cache yet, the runner pulls it before its
// engines start, while its gateway already answers (/health LOADING, /ready 503 "downloading …", status and Live
// Runner heartbeats showing the download), so the engine starts offline (HF_HUB_OFFLINE=1): it never downloads,
// and the supervisor's stall watchdog never mistakes a long download for a hung load.
import { homedir } from "node:os";
import { formatConfigIssues } from "../config/config-issues.js";
import { defaultHubCache, type LoadConfigResult } from "../config/load-config.js";
import type { Config } from "../config/types.js";
import { isLocalModel } from "../engine/vllm-args.js";
import { PrepareFailed, type PrepareStep } from "../instance/prepare-step.js";
import type { Logger } from "../log/logger.js";
import { isSnapshotComplete, readLocalSnapshot } from "../models/hf-cache.js";
import { PullTracker } from "../models/pull-tracker.js";
import type { CliIO } from "./cli-command.js";
import type { ProgressOutput } from "./progress.js";
import { runPull } from "./run-pull.js";

// How often the download's progress is reported as the runner's loading progress.
const REPORT_MS = 1_000;

/**
 * The cache folder the model must be pulled into before the engine can start, or null when there is nothing to
 * pull (a local model, the simulator, or a complete snapshot: then the engine starts offline).
 */
export function modelToPull(config: Config, env: NodeJS.ProcessEnv): string | null {
  if (config.engine !== "vllm" || isLocalModel(config)) return null;
  const cacheDir = config.modelDir ?? defaultHubCache(env, env.HOME || homedir());
  const snapshot = readLocalSnapshot(cacheDir, config.modelId);
  if (snapshot && isSnapshotComplete(snapshot)) {
    config.hubOffline = true;
    return null;
  }
  return cacheDir;
}

/**
 * The pull as the runner's first step: its lines go to the log, its progress to the runner's loading progress;
 * then the model-aware checks that were skipped without the model's config.json run (`recheck`).
 */
export function pullBeforeEngine(
  config: Config,
  cacheDir: string,
  io: CliIO,
  recheck: () => Promise<LoadConfigResult>,
): (logger: Logger) => PrepareStep {
  return (logger) => ({
    async run(report, signal) {
      logger.info(
        { model: config.modelId, cacheDir },
        `${config.modelId} is not in ${cacheDir} yet: pulling it before the engine starts; the gateway answers LOADING meanwhile`,
      );
      const tracker = new PullTracker();
      const progress = () =>
        report(
          tracker.planned ? tracker.fraction() : null,
          `downloading ${config.modelId}: ${tracker.summary()}`,
        );
      const timer = setInterval(progress, REPORT_MS);
      timer.unref();
      let outcome: Awaited<ReturnType<typeof runPull>>;
      try {
        outcome = await runPull({
          repo: config.modelId,
          cacheDir,
          endpoint: config.hfEndpoint ?? "https://huggingface.co",
          token: config.hfToken,
          out: logLines(logger),
          env: io.env,
          ...(config.pullConcurrency ? { concurrency: config.pullConcurrency } : {}),
          onEvent: (e) => {
            tracker.onEvent(e);
            if (e.type === "plan") progress();
          },
          signal,
        });
      } finally {
        clearInterval(timer);
      }
      if (!outcome.ok) {
        throw new PrepareFailed(
          `the model ${config.modelId} could not be downloaded: ${outcome.message}`,
          outcome.fix ?? "run `llm-runner pull` to see the download's own messages",
        );
      }
      const again = await recheck();
      if (!again.ok) {
        throw new PrepareFailed(
          `with the model downloaded, the configuration does not fit it:\n${formatConfigIssues(again.issues)}`,
          "fix the variables named above, then start again",
          "bad_config",
        );
      }
    },
  });
}

/** The pull's plain progress lines, one log record each (the terminal bar is for `llm-runner pull`). */
function logLines(logger: Logger): ProgressOutput {
  let pending = "";
  return {
    isTTY: false,
    write(chunk: string) {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const text = line.trim(); // not a terminal: no bar redraws, only plain lines
        if (text !== "") logger.info({ component: "pull" }, text);
      }
      return true;
    },
  };
}
