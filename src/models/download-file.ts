// One file from the hub into blobs/<etag>: resumable, verified, and — past one part (file-parts.ts) — fetched
// in parts side by side where the server honours Range, as huggingface_hub's hf_transfer and Xet downloads
// do. @huggingface/hub's downloadFileToCacheDir is not used: it restarts `.incomplete` from byte 0, has no
// progress hook, verifies neither size nor hash, and follows redirects inside fetch (the hub's headers are lost).
// The first request of a file (its leader) finds out whether ranges work; its other parts wait for that answer
// and then ask the URL it was redirected to (one request to the hub per file, not one per part). Each part
// retries on its own (retry-policy.ts), resuming where it stopped; a temporary error or a cut connection never
// fails the pull before its retries are spent.
import { constants } from "node:fs";
import { type FileHandle, mkdir, open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { AbortedError } from "./aborted-error.js";
import type { DownloadSlots } from "./download-slots.js";
import {
  type Part,
  type PartPaths,
  prepareFiles,
  readProgress,
  removeRecord,
  saveRecord,
  writtenBytes,
} from "./file-parts.js";
import {
  BodyTooLong,
  type ByteRange,
  type FileSource,
  getRange,
  RangeIgnored,
  RangeNotSatisfiable,
  resolveUrl,
  StatusRefused,
} from "./get-range.js";
import type { FileHash, HashThreads } from "./hash-threads.js";
import { sizeOrZero } from "./hf-cache.js";
import { OrderedHash } from "./ordered-hash.js";
import { isDiskFull, PartWriter } from "./part-writer.js";
import { cdnStatusError, describeError, PullError, statusError } from "./pull-error.js";
import { nextStep, PULL_RETRY, type RetryPolicy } from "./retry-policy.js";
import { runAll, sleepUnlessAborted } from "./run-all.js";
import type { RetryNotice } from "./temporary-failure.js";
import { gaveUpError, serverOf, TemporaryFailure } from "./temporary-failure.js";
import { verifyDownload } from "./verify-file.js";

export interface DownloadTarget extends FileSource {
  blobPath: string;
  paths: PartPaths;
}

export interface DownloadHooks {
  slots: DownloadSlots;
  hashThreads: HashThreads;
  partSize: number;
  /** The file's first request starts, `resumeFrom` bytes being on disk already. */
  onStart(resumeFrom: number): void;
  /** Bytes received. */
  onBytes(n: number): void;
  onRetry(notice: RetryNotice & { resumeAt: number }): void;
  /** Waits between retries (passed in so tests do not sleep). */
  sleep(ms: number): Promise<void>;
  signal: AbortSignal;
  policy?: RetryPolicy;
}

/** Downloads what is missing of the file, verifies its size and hash, and renames it into blobs/<etag>. */
export async function downloadFile(t: DownloadTarget, hooks: DownloadHooks): Promise<void> {
  try {
    await fetchFile(t, hooks);
  } catch (err) {
    // Files side by side: the disk may fill while this one is created or renamed, not only while it is written.
    if (isDiskFull(err)) throw diskFullError(t, t.paths.incomplete, err);
    throw err;
  }
}

async function fetchFile(t: DownloadTarget, hooks: DownloadHooks): Promise<void> {
  await mkdir(path.dirname(t.blobPath), { recursive: true });
  const progress = readProgress(t.file.size, hooks.partSize, t.paths);
  const dataPath = await prepareFiles(t.file.size, hooks.partSize, progress, t.paths);
  const fh = await open(dataPath, constants.O_RDWR | constants.O_CREAT, 0o644);
  const download = new FileDownload(t, hooks, progress.parts, fh, dataPath);
  let digest: string;
  try {
    digest = await download.run();
  } finally {
    await download.stop();
    await fh.close();
  }
  await verifyDownload(t.file, dataPath, digest);
  await rename(dataPath, t.blobPath);
  await removeRecord(t.paths);
}

class FileDownload {
  private hash: FileHash;
  private cdnUrl: URL | null = null; // where the hub redirected the file: the other parts ask there directly
  private rangesConfirmed = false;
  private decideRanges: (ok: boolean) => void = () => {};
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly t: DownloadTarget,
    private readonly hooks: DownloadHooks,
    private readonly parts: Part[],
    private readonly fh: FileHandle,
    private readonly dataPath: string,
  ) {
    this.hash =
      parts.length > 1 ? hooks.hashThreads.open(t.file, dataPath, parts) : new OrderedHash(t.file, fh, parts);
  }

  /** Fetched in parts; false for a small file, and once a server without ranges sends the whole file. */
  private get split(): boolean {
    return this.parts.length > 1;
  }

  async run(): Promise<string> {
    const todo = this.parts.filter((p) => p.written < p.end - p.start);
    const [leader, ...rest] = todo;
    if (leader) {
      const rangesOk = new Promise<boolean>((resolve) => {
        this.decideRanges = resolve;
      });
      await runAll(
        [
          (signal) =>
            this.hooks.slots
              .run(() => {
                this.hooks.onStart(writtenBytes(this.parts));
                return this.fetchPart(leader, signal, true);
              })
              .finally(() => this.decideRanges(false)),
          ...rest.map((part) => async (signal: AbortSignal) => {
            if (await rangesOk) await this.hooks.slots.run(() => this.fetchPart(part, signal, false));
          }),
        ],
        this.hooks.signal,
      );
    }
    return this.hash.digest();
  }

  /** Lets a read-back finish and records how far a split file got (for the next run). */
  async stop(): Promise<void> {
    await this.hash.discard();
    await this.record();
  }

  private async fetchPart(first: Part, signal: AbortSignal, leader: boolean): Promise<void> {
    let part = first;
    const src: FileSource = { ...this.t, signal };
    let failures = 0;
    let before = part.written;
    for (;;) {
      if (part.written >= part.end - part.start) {
        await this.record();
        return;
      }
      if (signal.aborted) throw new AbortedError("interrupted");
      const viaCdn = this.cdnUrl;
      const from = viaCdn ?? resolveUrl(this.t);
      let failure: TemporaryFailure;
      try {
        const answered = await getRange(src, from, this.rangeOf(part), (pos, url) =>
          this.writer(part, pos, url),
        );
        if (part.written >= part.end - part.start) continue;
        failure = new TemporaryFailure(
          serverOf(answered, this.t.endpoint),
          `the answer ended at byte ${part.start + part.written} of ${part.end}`,
          null,
          null,
        );
      } catch (err) {
        if (signal.aborted) throw new AbortedError("interrupted");
        if (err instanceof PullError) throw err;
        if (isDiskFull(err)) throw diskFullError(this.t, this.dataPath, err);
        if (err instanceof BodyTooLong) throw await this.oversize(err);
        if (err instanceof RangeIgnored && leader && !this.rangesConfirmed) {
          part = await this.startOver(); // the server sends whole files only: one stream fetches all of it
          continue;
        }
        if (err instanceof StatusRefused) {
          if (viaCdn !== null && err.server.role === "CDN") {
            this.cdnUrl = null; // an expired or refused CDN link: ask the hub for a fresh one
            continue;
          }
          throw this.refused(err);
        }
        if (err instanceof RangeNotSatisfiable && !this.split) part = await this.startOver();
        if (err instanceof RangeIgnored || err instanceof RangeNotSatisfiable)
          failure = new TemporaryFailure(err.server, err.message, null, null);
        else if (err instanceof TemporaryFailure) failure = err;
        else throw err;
      }
      failures = part.written > before ? 1 : failures + 1; // tries in a row without progress
      before = part.written;
      const step = nextStep(this.hooks.policy ?? PULL_RETRY, failures, failure.askedMs);
      const kept = `${writtenBytes(this.parts)} of ${this.t.file.size} bytes are kept in ${this.dataPath}`;
      if (!step.retry)
        throw gaveUpError(failure, step, failures, `${this.t.file.path} of ${this.t.repo}`, kept);
      this.hooks.onRetry({
        server: failure.server,
        what: this.t.file.path,
        problem: failure.problem,
        attempt: failures,
        maxRetries: (this.hooks.policy ?? PULL_RETRY).maxTries - 1,
        waitMs: step.waitMs,
        asked: step.asked,
        resumeAt: part.start + part.written,
      });
      this.cdnUrl = null; // the retry asks the hub again, for a fresh link
      await sleepUnlessAborted(this.hooks.sleep, step.waitMs, signal);
    }
  }

  /** The Range header of a part's next request: none for a whole file from byte 0. */
  private rangeOf(part: Part): ByteRange | null {
    const start = part.start + part.written;
    if (!this.split) return start === 0 ? null : { start, end: part.end, openEnded: true };
    return { start, end: part.end, openEnded: false };
  }

  private writer(part: Part, pos: number, answered: URL): PartWriter {
    if (pos !== part.start + part.written)
      throw new Error(`the body starts at ${pos}, not where the part stands`);
    // The CDN link this body came from, before the other parts are let go: they ask it, not the hub, until a retry.
    if (serverOf(answered, this.t.endpoint).role === "CDN") this.cdnUrl = answered;
    if (this.split && !this.rangesConfirmed) {
      this.rangesConfirmed = true;
      this.decideRanges(true);
    }
    return new PartWriter({
      fh: this.fh,
      pos,
      end: part.end,
      onBytes: this.hooks.onBytes,
      onWritten: (at, chunks, n) => {
        part.written += n;
        this.hash.written(at, chunks, n);
      },
    });
  }

  /** Forgets every byte on disk; returns the one part a single stream from byte 0 fills. */
  private async startOver(): Promise<Part> {
    await this.hash.discard();
    const whole: Part = { start: 0, end: this.t.file.size, written: 0 };
    this.parts.splice(0, this.parts.length, whole);
    await this.fh.truncate(0);
    await removeRecord(this.t.paths);
    this.hash = new OrderedHash(this.t.file, this.fh, this.parts);
    return whole;
  }

  private record(): Promise<void> {
    if (!this.split) return this.saving;
    // A record that cannot be written only costs the next run those parts again: the hash still checks all.
    this.saving = this.saving
      .then(() => saveRecord(this.t.paths, this.t.file.size, this.hooks.partSize, this.parts))
      .catch(() => undefined);
    return this.saving;
  }

  /** The server sends (or announces) more bytes than the file list says: the file is deleted, no retry. */
  private async oversize(err: BodyTooLong): Promise<PullError> {
    await this.hash.discard();
    await rm(this.dataPath, { force: true });
    await removeRecord(this.t.paths);
    this.parts.splice(1); // nothing left to record
    return new PullError(
      "corrupt",
      `${err.host} ${err.what} for ${this.t.file.path}, which the hub lists as ${this.t.file.size} bytes; the download was stopped and deleted`,
      "a proxy or mirror (HF_ENDPOINT) is serving other content than the hub lists; check it, then run the command again",
    );
  }

  private refused(err: StatusRefused): PullError {
    const what = this.t.file.path;
    if (err.server.role === "CDN")
      return cdnStatusError({ status: err.status, host: err.server.host, repo: this.t.repo, what });
    return statusError({
      status: err.status,
      errorCode: err.errorCode,
      endpoint: this.t.endpoint,
      repo: this.t.repo,
      what,
      hasToken: this.t.token !== null,
      detail: err.detail,
    });
  }
}

function diskFullError(t: DownloadTarget, dataPath: string, err: unknown): PullError {
  const dir = path.dirname(path.dirname(path.dirname(dataPath)));
  const kept = sizeOrZero(dataPath) > 0 ? `; the part already downloaded is kept in ${dataPath}` : "";
  return new PullError(
    "disk_full",
    `the disk filled up while writing ${t.file.path} (${describeError(err)})${kept}`,
    `free space on the disk that holds ${dir} (see 'df -h ${dir}'), or set MODEL_DIR to a larger disk, then run the command again: it resumes`,
  );
}
