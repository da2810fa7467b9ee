// One file from the hub into blobs/<etag>, resumable. @huggingface/hub's downloadFileToCacheDir is not used
// for this: it restarts `.incomplete` from byte 0 (no Range resume), has no progress hook, verifies neither
// size nor hash, and follows redirects inside fetch so the hub's own headers are lost. This follows
// huggingface_hub (Python) instead: GET <endpoint>/<repo>/resolve/<commit>/<file>, the hub answers small
// files itself and LFS files with a redirect to a CDN; the Authorization header is not sent to another
// origin; an existing blobs/<etag>.incomplete is resumed with `Range: bytes=<size>-`; a cut connection is
// retried from where it stopped.
import type { Hash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, truncate } from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type Dispatcher, request } from "undici";
import { sizeOrZero } from "./hf-cache.js";
import type { HubFile } from "./hub-api.js";
import { isPrivateHost } from "./private-address.js";
import { describeError, PullError, statusError } from "./pull-error.js";
import { startHash, verifyDownload } from "./verify-file.js";

export interface DownloadTarget {
  endpoint: string;
  token: string | null;
  repo: string;
  commit: string;
  file: HubFile;
  blobPath: string;
  incompletePath: string;
}

export interface DownloadHooks {
  /** Bytes written to disk (after any resume offset). */
  onBytes(n: number): void;
  /** A transfer failed and will be retried from `resumeAt`. */
  onRetry(info: { attempt: number; resumeAt: number; reason: string }): void;
  signal?: AbortSignal;
  /** Waits between retries (passed in so tests do not sleep). */
  sleep(ms: number): Promise<void>;
  maxRetries?: number; // consecutive failures without progress before giving up (default 5)
  dispatcher?: Dispatcher;
}

const MAX_REDIRECTS = 5;
const WRITE_BUFFER = 8 * 1024 * 1024;
// A stalled transfer (no bytes for this long) is treated like a cut connection and resumed.
const BODY_TIMEOUT_MS = 60_000;

export class AbortedError extends Error {
  override readonly name = "AbortedError";
}

/** Downloads (resuming a partial file), verifies size and hash, and renames into blobs/<etag>. */
export async function downloadFile(t: DownloadTarget, hooks: DownloadHooks): Promise<void> {
  await mkdir(path.dirname(t.blobPath), { recursive: true });
  const maxRetries = hooks.maxRetries ?? 5;
  let failures = 0;
  let digest: string | null = null;
  for (;;) {
    if (hooks.signal?.aborted) throw new AbortedError("interrupted");
    let offset = sizeOrZero(t.incompletePath);
    if (offset > t.file.size) {
      await rm(t.incompletePath, { force: true });
      offset = 0;
    }
    if (offset === t.file.size) break; // complete from an earlier run, not yet checked
    const before = offset;
    try {
      digest = (await transfer(t, offset, hooks)).digest("hex");
      break;
    } catch (err) {
      if (err instanceof PullError || err instanceof AbortedError) throw err;
      if (hooks.signal?.aborted) throw new AbortedError("interrupted");
      if (isDiskFull(err)) throw diskFullError(t, err);
      const now = sizeOrZero(t.incompletePath);
      failures = now > before ? 1 : failures + 1;
      if (failures > maxRetries) {
        throw new PullError(
          "network",
          `downloading ${t.file.path} failed ${failures} times in a row: ${describeError(err)}; ${now} of ${t.file.size} bytes are kept in ${t.incompletePath}`,
          "check the network, then run the command again: it resumes from where it stopped",
        );
      }
      hooks.onRetry({ attempt: failures, resumeAt: now, reason: describeError(err) });
      await hooks.sleep(Math.min(1000 * 2 ** (failures - 1), 10_000));
    }
  }
  digest ??= (await startHash(t.file, t.incompletePath)).digest("hex");
  await verifyDownload(t.file, t.incompletePath, digest);
  await rename(t.incompletePath, t.blobPath);
}

/** One GET (following redirects) appended to the partial file; returns the hash of the whole file so far. */
async function transfer(t: DownloadTarget, offset: number, hooks: DownloadHooks): Promise<Hash> {
  const first = new URL(`${t.endpoint}/${t.repo}/resolve/${t.commit}/${encodePath(t.file.path)}`);
  let url = first;
  const headers: Record<string, string> = { "user-agent": "llm-runner" };
  if (t.token) headers.authorization = `Bearer ${t.token}`;
  if (offset > 0) headers.range = `bytes=${offset}-`;
  for (let hop = 0; ; hop++) {
    const res = await request(url, {
      method: "GET",
      headers,
      signal: hooks.signal,
      headersTimeout: BODY_TIMEOUT_MS,
      bodyTimeout: BODY_TIMEOUT_MS,
      ...(hooks.dispatcher ? { dispatcher: hooks.dispatcher } : {}),
    });
    if (url === first) checkHubHeaders(t, res.headers);
    if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
      await res.body.dump();
      if (hop >= MAX_REDIRECTS) {
        throw new PullError(
          "hub_error",
          `too many redirects for ${t.file.path}`,
          "check HF_ENDPOINT and any proxy in between",
        );
      }
      const next = new URL(String(res.headers.location), url);
      checkRedirect(t, url, next);
      // huggingface_hub drops the token when it follows the hub's redirect to the CDN (a presigned URL).
      if (next.origin !== first.origin) delete headers.authorization;
      url = next;
      continue;
    }
    if (res.statusCode === 416) {
      // Our partial file is not a prefix the server can continue: start the file over.
      await res.body.dump();
      await rm(t.incompletePath, { force: true });
      throw new Error("the server cannot resume this file (HTTP 416); restarting it");
    }
    if (res.statusCode !== 200 && res.statusCode !== 206) {
      // The body is not pasted nor read in full: the hub's own message is in X-Error-Message.
      await res.body.dump(); // reads at most 128 kB (undici), then closes
      throw statusError({
        status: res.statusCode,
        errorCode: header(res.headers, "x-error-code"),
        endpoint: t.endpoint,
        repo: t.repo,
        what: t.file.path,
        hasToken: t.token !== null,
        detail: header(res.headers, "x-error-message")?.slice(0, 200) ?? "",
      });
    }
    let append = offset > 0;
    if (res.statusCode === 206) {
      const start = Number(/bytes (\d+)-/.exec(header(res.headers, "content-range") ?? "")?.[1]);
      if (start !== offset) {
        await res.body.dump();
        throw new Error(`the server resumed at byte ${start} instead of ${offset}`);
      }
    } else if (offset > 0) {
      append = false; // the server ignored Range and sends the whole file
    }
    const base = append ? offset : 0;
    const announced = Number(header(res.headers, "content-length") ?? Number.NaN);
    if (base + announced > t.file.size) {
      await res.body.dump(); // reads at most 128 kB (undici), then closes
      throw await oversizeError(t, url, `announced ${base + announced} bytes`);
    }
    if (!append) await truncateOrCreate(t.incompletePath);
    const hash = await startHash(t.file, append ? t.incompletePath : null);
    // Hashes and counts each chunk on its way to disk, and stops before a chunk that would pass the listed size.
    // A large write buffer lets the file stream batch chunks into one writev instead of one write (and one
    // wait) per 64 kB network chunk.
    let written = base;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        written += chunk.length;
        if (written > t.file.size) {
          cb(new OversizeSignal());
          return;
        }
        hash.update(chunk);
        hooks.onBytes(chunk.length);
        cb(null, chunk);
      },
    });
    const out = createWriteStream(t.incompletePath, { flags: "a", highWaterMark: WRITE_BUFFER });
    try {
      await pipeline(res.body, meter, out);
    } catch (err) {
      if (err instanceof OversizeSignal) throw await oversizeError(t, url, `sent more than that`);
      throw err;
    }
    return hash;
  }
}

class OversizeSignal extends Error {}

/** The server sends (or announces) more bytes than the file list says: the part is deleted, no retry. */
async function oversizeError(t: DownloadTarget, url: URL, what: string): Promise<PullError> {
  await rm(t.incompletePath, { force: true });
  return new PullError(
    "corrupt",
    `${url.host} ${what} for ${t.file.path}, which the hub lists as ${t.file.size} bytes; the download was stopped and deleted`,
    "a proxy or mirror (HF_ENDPOINT) is serving other content than the hub lists; check it, then run the command again",
  );
}

/**
 * Refuses a redirect from a public hub to this machine or its private network (an attacker's way to make the
 * pull call a local service); a hub that is itself on a private address (a local mirror) may redirect there.
 */
function checkRedirect(t: DownloadTarget, from: URL, to: URL): void {
  if (to.protocol !== "http:" && to.protocol !== "https:") {
    throw new PullError(
      "hub_error",
      `${from.host} redirected ${t.file.path} to a ${to.protocol} URL; only http and https are followed`,
      "check HF_ENDPOINT and any proxy in between",
    );
  }
  if (!isPrivateHost(to.hostname) || isPrivateHost(new URL(t.endpoint).hostname)) return;
  throw new PullError(
    "hub_error",
    `${from.host} redirected ${t.file.path} to ${to.host}, a loopback, link-local or private address, while HF_ENDPOINT is public; the redirect was not followed`,
    "check HF_ENDPOINT: the Hugging Face hub redirects only to its public CDN; to pull from a mirror on your own network, set HF_ENDPOINT to the mirror's address",
  );
}

/** Checks the hub's own headers on its first answer, as huggingface_hub's get_hf_file_metadata reads them. */
function checkHubHeaders(t: DownloadTarget, headers: Record<string, string | string[] | undefined>): void {
  const commit = header(headers, "x-repo-commit");
  const linkedEtag = normalizeEtag(header(headers, "x-linked-etag"));
  const linkedSize = header(headers, "x-linked-size");
  const problems: string[] = [];
  if (commit && commit !== t.commit) problems.push(`commit ${commit} instead of ${t.commit}`);
  if (linkedEtag && linkedEtag !== t.file.etag) problems.push(`etag ${linkedEtag} instead of ${t.file.etag}`);
  if (linkedSize && Number(linkedSize) !== t.file.size)
    problems.push(`size ${linkedSize} instead of ${t.file.size}`);
  if (problems.length > 0) {
    throw new PullError(
      "hub_error",
      `the hub's answer for ${t.file.path} does not match its file list: ${problems.join(", ")}`,
      "a proxy or mirror (HF_ENDPOINT) is serving other content; check it, then run the command again",
    );
  }
}

/** `"abc"` and `W/"abc"` -> `abc` (huggingface_hub's _normalize_etag). */
export function normalizeEtag(etag: string | null): string | null {
  if (etag === null) return null;
  return etag.replace(/^W\//, "").replace(/^"|"$/g, "");
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | null {
  const v = headers[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}

function encodePath(p: string): string {
  return p.split("/").map(encodeURIComponent).join("/");
}

async function truncateOrCreate(p: string): Promise<void> {
  try {
    await truncate(p, 0);
  } catch {
    // does not exist yet: the write stream creates it
  }
}

function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

export function diskFullError(t: Pick<DownloadTarget, "file" | "incompletePath">, err: unknown): PullError {
  const dir = path.dirname(path.dirname(path.dirname(t.incompletePath)));
  return new PullError(
    "disk_full",
    `the disk filled up while writing ${t.file.path} (${describeError(err)}); the part already downloaded is kept in ${t.incompletePath}`,
    `free space on the disk that holds ${dir} (see 'df -h ${dir}'), or set MODEL_DIR to a larger disk, then run the command again: it resumes`,
  );
}
