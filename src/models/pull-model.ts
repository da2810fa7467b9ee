// `pull`: resolve the revision, pick the files vLLM loads, check the disk, download what is missing (files side
// by side, PULL_CONCURRENCY connections in all; resuming partial files), verify each, then link the snapshot and
// write refs/main last, so a half-finished pull is never mistaken for a model. Progress goes out as events; the
// CLI draws them.
import { readFileSync } from "node:fs";
import type { Dispatcher } from "undici";
import { AbortedError } from "./aborted-error.js";
import { checkFreeSpace } from "./disk-space.js";
import { downloadFile } from "./download-file.js";
import { DownloadSlots } from "./download-slots.js";
import { PART_SIZE, type PartPaths, readProgress, writtenBytes } from "./file-parts.js";
import { HashThreads } from "./hash-threads.js";
import { linkSnapshotFile, markAbsent, type RepoCache, repoCache, writeRef } from "./hf-cache.js";
import type { HubApi, HubFile } from "./hub-api.js";
import { gatedError, PullError } from "./pull-error.js";
import { acquirePullLock } from "./pull-lock.js";
import { runAll } from "./run-all.js";
import type { RetryNotice } from "./temporary-failure.js";
import { isVerifiedBlob } from "./verify-file.js";
import { filterByIndex, NoWeightsError, OPTIONAL_PROBED_FILES, selectVllmFiles } from "./vllm-files.js";

export interface PlannedFile {
  path: string;
  size: number;
  cached: boolean; // its blob is already in the cache
  resumeFrom: number; // bytes already in blobs/<etag>.incomplete
}

export type PullEvent =
  | { type: "resolved"; repo: string; commit: string; gated: boolean }
  | { type: "plan"; files: PlannedFile[]; totalBytes: number; toFetch: number; free: number }
  | { type: "file"; index: number; count: number; path: string; size: number; resumeFrom: number }
  | { type: "file-done"; index: number; count: number; path: string }
  | { type: "bytes"; n: number }
  | ({ type: "retry"; resumeAt?: number } & RetryNotice)
  | { type: "done"; commit: string; snapshotDir: string; fetched: number };

export interface PullRequest {
  repo: string;
  cacheDir: string;
  endpoint: string;
  token: string | null;
  revision?: string; // default "main"
}

export interface PullDeps {
  hub: HubApi;
  freeBytes(dir: string): Promise<number>;
  sleep(ms: number): Promise<void>;
  onEvent(event: PullEvent): void;
  signal?: AbortSignal;
  dispatcher?: Dispatcher;
  concurrency?: number; // PULL_CONCURRENCY (default 8, huggingface_hub's max_workers)
  partSize?: number; // default PART_SIZE
}

export const DEFAULT_PULL_CONCURRENCY = 8;

export interface PullResult {
  commit: string;
  snapshotDir: string;
  fetched: number; // bytes downloaded by this run
}

export { AbortedError };

function partPaths(cache: RepoCache, file: HubFile): PartPaths {
  return { incomplete: cache.incompletePath(file.etag), parts: cache.partsPath(file.etag) };
}

export async function pullModel(req: PullRequest, deps: PullDeps): Promise<PullResult> {
  const revision = req.revision ?? "main";
  const info = await deps.hub.snapshotInfo(req.repo, revision);
  deps.onEvent({ type: "resolved", repo: req.repo, commit: info.commit, gated: info.gated });
  // The hub lists a gated repo's files to anyone; stop before the first download says 401.
  if (info.gated && !req.token) throw gatedError(req.endpoint, req.repo, false, 401);

  let selection: ReturnType<typeof selectVllmFiles<HubFile>>;
  try {
    selection = selectVllmFiles(info.files);
  } catch (err) {
    if (err instanceof NoWeightsError)
      throw new PullError(
        "not_found",
        `${req.repo}: ${err.message}`,
        "check MODEL_ID: vLLM serves transformers-format models",
      );
    throw err;
  }

  const cache = repoCache(req.cacheDir, req.repo);
  const lock = acquirePullLock(req.cacheDir, req.repo);
  let fetched = 0;
  const hashThreads = new HashThreads(); // started on first use
  try {
    const beforePlan = new Set<string>(); // fetched ahead of the plan (the index): counted in it as this run's
    // An existing blob counts only once its size and hash are the hub's (a bad one is deleted and fetched).
    const verified = new Set<string>();
    const haveBlob = async (file: HubFile) => {
      if (!verified.has(file.etag) && (await isVerifiedBlob(file, cache.blobPath(file.etag))))
        verified.add(file.etag);
      return verified.has(file.etag);
    };
    const slots = new DownloadSlots(deps.concurrency ?? DEFAULT_PULL_CONCURRENCY);
    const partSize = deps.partSize ?? PART_SIZE;
    const onDisk = (f: HubFile) => verified.has(f.etag);
    const partial = (f: HubFile) => writtenBytes(readProgress(f.size, partSize, partPaths(cache, f)).parts);
    const fetchOne = async (file: HubFile, index: number, count: number, signal: AbortSignal) => {
      if (await haveBlob(file)) return;
      if (count === 0) beforePlan.add(file.path);
      await downloadFile(
        {
          endpoint: req.endpoint,
          token: req.token,
          repo: req.repo,
          commit: info.commit,
          file,
          blobPath: cache.blobPath(file.etag),
          paths: partPaths(cache, file),
          ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
        },
        {
          slots,
          hashThreads,
          partSize,
          signal,
          sleep: deps.sleep,
          onStart: (resumeFrom) =>
            deps.onEvent({ type: "file", index, count, path: file.path, size: file.size, resumeFrom }),
          onBytes: (n) => {
            fetched += n;
            deps.onEvent({ type: "bytes", n });
          },
          onRetry: (r) => deps.onEvent({ type: "retry", ...r }),
        },
      );
      verified.add(file.etag);
      deps.onEvent({ type: "file-done", index, count, path: file.path });
    };
    const pullSignal = deps.signal ?? new AbortController().signal;

    let weights = selection.weights;
    const support = selection.support;
    if (selection.index && weights.length > 1) {
      // The index is a few kB; it says which shards vLLM will read, so it comes before the plan.
      await fetchOne(selection.index, 0, 0, pullSignal);
      weights = filterByIndex(weights, readFileSync(cache.blobPath(selection.index.etag), "utf8"));
    }
    const files = [...support, ...[...weights].sort((a, b) => a.path.localeCompare(b.path))];

    for (const f of files) await haveBlob(f);
    const planned: PlannedFile[] = files.map((f) => ({
      path: f.path,
      size: f.size,
      cached: onDisk(f) && !beforePlan.has(f.path),
      resumeFrom: onDisk(f) ? 0 : partial(f),
    }));
    const toFetch = planned.reduce((sum, f) => sum + (f.cached ? 0 : f.size - f.resumeFrom), 0);
    const needed = files.reduce((sum, f) => sum + (onDisk(f) ? 0 : f.size - partial(f)), 0);
    const free = await deps.freeBytes(req.cacheDir);
    deps.onEvent({
      type: "plan",
      files: planned,
      totalBytes: planned.reduce((s, f) => s + f.size, 0),
      toFetch,
      free,
    });
    checkFreeSpace({ cacheDir: req.cacheDir, needed, free, repo: req.repo });

    const missing = files.filter((f) => !onDisk(f));
    await runAll(
      missing.map((file, i) => (signal) => fetchOne(file, i + 1, missing.length, signal)),
      deps.signal,
    );

    for (const f of files) await linkSnapshotFile(cache, info.commit, f.path, f.etag);
    const inRepo = new Set(info.files.map((f) => f.path));
    await markAbsent(
      cache,
      info.commit,
      OPTIONAL_PROBED_FILES.filter((name) => !inRepo.has(name)),
    );
    if (revision !== info.commit) await writeRef(cache, revision, info.commit);
    const snapshotDir = cache.snapshotDir(info.commit);
    deps.onEvent({ type: "done", commit: info.commit, snapshotDir, fetched });
    return { commit: info.commit, snapshotDir, fetched };
  } finally {
    await hashThreads.close();
    lock.release();
  }
}
