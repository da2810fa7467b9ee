// `start`'s hook: when ENGINE=vllm serves a hub model that is not in the cache yet, pull it first (with the same
// progress as `llm-runner pull`), so the engine starts offline (HF_HUB_OFFLINE=1): it never downloads, and the
// supervisor's stall watchdog never mistakes a long download for a hung load.
import { homedir } from "node:os";
import { defaultHubCache } from "../config/load-config.js";
import type { Config } from "../config/types.js";
import { isLocalModel } from "../engine/vllm-args.js";
import { isSnapshotComplete, readLocalSnapshot } from "../models/hf-cache.js";
import type { CliIO } from "./cli-command.js";
import { runPull } from "./run-pull.js";

export type EnsureModelOutcome = { ok: true; pulled: boolean } | { ok: false; code: number };

/** Makes sure the model is in the cache; sets config.hubOffline when the engine can start offline. */
export async function ensureModelPulled(config: Config, io: CliIO): Promise<EnsureModelOutcome> {
  if (config.engine !== "vllm" || isLocalModel(config)) return { ok: true, pulled: false };
  const cacheDir = config.modelDir ?? defaultHubCache(io.env, io.env.HOME || homedir());
  const snapshot = readLocalSnapshot(cacheDir, config.modelId);
  if (snapshot && isSnapshotComplete(snapshot)) {
    config.hubOffline = true;
    return { ok: true, pulled: false };
  }
  io.stderr.write(
    `${config.modelId} is not in ${cacheDir} yet: pulling it before the engine starts (Ctrl-C stops; the next start resumes)\n`,
  );
  const outcome = await runPull({
    repo: config.modelId,
    cacheDir,
    endpoint: config.hfEndpoint ?? "https://huggingface.co",
    token: config.hfToken,
    ...(config.pullConcurrency ? { concurrency: config.pullConcurrency } : {}),
    out: io.stderr,
    env: io.env,
  });
  if (!outcome.ok) return outcome;
  config.hubOffline = true;
  return { ok: true, pulled: true };
}
