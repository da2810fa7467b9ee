// Runs a pull with progress on the terminal and turns its failures into the operator's message and fix.
// Shared by `llm-runner pull` and by `llm-runner start` when the model is not downloaded yet.
import { setTimeout as sleep } from "node:timers/promises";
import { freeBytes } from "../models/disk-space.js";
import { formatBytes } from "../models/format-bytes.js";
import { createHubApi, type HubApi } from "../models/hub-api.js";
import { fetchVia, proxyDispatcher } from "../models/hub-dispatcher.js";
import { PullError } from "../models/pull-error.js";
import { AbortedError, type PullEvent, type PullResult, pullModel } from "../models/pull-model.js";
import { EXIT } from "./cli-command.js";
import type { ProgressOutput } from "./progress.js";
import { PullProgressView } from "./pull-progress.js";

export interface RunPullInput {
  repo: string;
  cacheDir: string;
  endpoint: string;
  token: string | null;
  out: ProgressOutput; // progress and errors (stderr)
  env: NodeJS.ProcessEnv; // HTTP(S)_PROXY, NO_PROXY
  concurrency?: number; // PULL_CONCURRENCY
  hub?: HubApi;
  /** Every pull event, beside the progress view (a runner reports them as its loading progress). */
  onEvent?: (event: PullEvent) => void;
  /** Stops the pull (default: SIGINT and SIGTERM do, as for `llm-runner pull`). */
  signal?: AbortSignal;
}

/** Exit code 130 after Ctrl-C, as shells report a SIGINT death. */
export const EXIT_INTERRUPTED = 130;

export type RunPullOutcome =
  | { ok: true; result: PullResult }
  | { ok: false; code: number; message: string; fix?: string };

export async function runPull(input: RunPullInput): Promise<RunPullOutcome> {
  const view = new PullProgressView(input.out);
  const dispatcher = proxyDispatcher(input.env);
  const abort = new AbortController();
  let fetched = 0;
  const onSignal = () => abort.abort();
  const ticker = setInterval(() => view.tick(), 1000);
  ticker.unref();
  if (input.signal) input.signal.addEventListener("abort", onSignal, { once: true });
  else {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  try {
    if (input.token !== null && !input.token.startsWith("hf_")) {
      throw new PullError(
        "bad_token",
        "HF_TOKEN does not look like a Hugging Face access token (they start with hf_)",
        `create a read token at ${input.endpoint}/settings/tokens and set HF_TOKEN to it`,
      );
    }
    const wait = (ms: number) => sleep(ms, undefined, { signal: abort.signal }).catch(() => undefined);
    const result = await pullModel(
      { repo: input.repo, cacheDir: input.cacheDir, endpoint: input.endpoint, token: input.token },
      {
        hub:
          input.hub ??
          createHubApi({ endpoint: input.endpoint, token: input.token }, fetchVia(dispatcher), {
            sleep: wait,
            now: Date.now,
            onRetry: (r) => {
              view.onEvent({ type: "retry", ...r });
              input.onEvent?.({ type: "retry", ...r });
            },
            signal: abort.signal,
          }),
        ...(dispatcher ? { dispatcher } : {}),
        ...(input.concurrency ? { concurrency: input.concurrency } : {}),
        freeBytes,
        sleep: wait,
        signal: abort.signal,
        onEvent: (e) => {
          if (e.type === "bytes") fetched += e.n;
          view.onEvent(e);
          input.onEvent?.(e);
        },
      },
    );
    return { ok: true, result };
  } catch (err) {
    view.clear();
    if (err instanceof AbortedError || abort.signal.aborted) {
      const message = `interrupted after ${formatBytes(fetched)}; partial files are kept`;
      input.out.write(`\n${message}. Run the same command again to resume.\n`);
      return { ok: false, code: EXIT_INTERRUPTED, message };
    }
    if (err instanceof PullError) {
      input.out.write(`pull failed: ${err.message}\nfix: ${err.fix}\n`);
      return { ok: false, code: EXIT.failure, message: err.message, fix: err.fix };
    }
    throw err;
  } finally {
    clearInterval(ticker);
    await dispatcher?.close();
    input.signal?.removeEventListener("abort", onSignal);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
