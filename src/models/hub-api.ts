// The hub's metadata API through @huggingface/hub (Hugging Face's own JS client): the commit a revision points
// at (GET /api/models/{id}/revision/{rev}) and the file tree with sizes and hashes
// (GET /api/models/{id}/tree/{commit}?recursive=true, paged by Link headers). File transfers do not use it:
// see download-file.ts for why. The hub is not trusted: each entry is checked (hub-file-check.ts) and the calls
// stay on HF_ENDPOINT's origin with a size cap (hub-api-fetch.ts); temporary errors are retried (hub-api-retry.ts).
import { HubApiError, listFiles, modelInfo } from "@huggingface/hub";
import { hubApiFetch } from "./hub-api-fetch.js";
import { type RetryDeps, retryingFetch } from "./hub-api-retry.js";
import type { HubFile } from "./hub-file.js";
import { hubFileFromEntry, untrustedListError } from "./hub-file-check.js";
import { describeError, PullError, statusError } from "./pull-error.js";

// Far above any model repo (the largest list tens of thousands of files).
const MAX_TREE_ENTRIES = 1_000_000;

// In its own file so that hub-file-check.ts can read it without importing this file back.
export type { HubFile };

export interface RepoSnapshotInfo {
  commit: string;
  gated: boolean;
  files: HubFile[];
}

export interface HubApi {
  snapshotInfo(repo: string, revision: string): Promise<RepoSnapshotInfo>;
}

export interface HubSettings {
  endpoint: string; // HF_ENDPOINT, no trailing slash
  token: string | null; // HF_TOKEN
}

const SILENT_RETRIES: RetryDeps = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: Date.now,
  onRetry: () => {},
};

export function createHubApi(
  settings: HubSettings,
  baseFetch: typeof fetch = fetch,
  retry: RetryDeps = SILENT_RETRIES,
): HubApi {
  const credentials = settings.token ? { accessToken: settings.token } : {};
  // HubApiError keeps the status but not the hub's X-Error-Code (GatedRepo, RepoNotFound...), which tells a
  // gated repo from a missing one: remember it from the failed response.
  let lastErrorCode: string | null = null;
  const host = new URL(settings.endpoint).host;
  const apiFetch = retryingFetch(hubApiFetch(settings.endpoint, baseFetch), settings.endpoint, retry);
  const fetchImpl: typeof fetch = async (input, init) => {
    const res = await apiFetch(input, init);
    if (!res.ok) lastErrorCode = res.headers.get("x-error-code");
    return res;
  };
  const fail = (err: unknown, repo: string, what: string): never => {
    if (err instanceof HubApiError) {
      throw statusError({
        status: err.statusCode,
        errorCode: lastErrorCode,
        endpoint: settings.endpoint,
        repo,
        what,
        hasToken: settings.token !== null,
        detail: typeof err.data?.error === "string" ? err.data.error : "",
      });
    }
    if (err instanceof PullError) throw err;
    throw new PullError(
      "network",
      `cannot reach the hub at ${settings.endpoint} for ${what} of ${repo}: ${describeError(err)}`,
      "check the network (and HTTPS_PROXY if you use one) and HF_ENDPOINT, then run the command again",
    );
  };
  return {
    async snapshotInfo(repo, revision) {
      let commit: string;
      let gated: boolean;
      try {
        const info = await modelInfo({
          name: repo,
          revision,
          hubUrl: settings.endpoint,
          additionalFields: ["sha"],
          fetch: fetchImpl,
          ...credentials,
        });
        if (typeof info.sha !== "string" || !/^[0-9a-f]{40}$/.test(info.sha)) {
          throw new PullError(
            "hub_error",
            `the hub's model info for ${repo} has no commit hash (sha)`,
            "check HF_ENDPOINT: it must point at a Hugging Face hub or a full mirror of its API",
          );
        }
        commit = info.sha;
        gated = info.gated !== false && info.gated !== undefined;
      } catch (err) {
        return fail(err, repo, "the model info");
      }
      const files: HubFile[] = [];
      let entries = 0;
      try {
        for await (const entry of listFiles({
          repo: { type: "model", name: repo },
          revision: commit,
          recursive: true,
          hubUrl: settings.endpoint,
          fetch: fetchImpl,
          ...credentials,
        })) {
          // An endless chain of next pages would grow the list without bound.
          if (++entries > MAX_TREE_ENTRIES)
            throw untrustedListError(host, repo, `more than ${MAX_TREE_ENTRIES} entries`);
          const file = hubFileFromEntry(entry, host, repo);
          if (file) files.push(file);
        }
      } catch (err) {
        return fail(err, repo, "the file list");
      }
      return { commit, gated, files };
    },
  };
}
