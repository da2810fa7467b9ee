// Content checks for a downloaded file: its size, and the hash the hub lists for it — sha256 of the bytes for
// LFS files (the weights), git's blob sha1 ("blob <size>\0" + bytes) for small files. The hash is computed as
// the bytes arrive; only a resumed file's existing prefix is read back from disk.
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, rm } from "node:fs/promises";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { sizeOrZero } from "./hf-cache.js";
import type { HubFile } from "./hub-api.js";
import { PullError } from "./pull-error.js";

/** A fresh hash for the file's kind, fed `prefixOf`'s bytes first when given (a resumed download). */
export async function startHash(file: HubFile, prefixOf: string | null): Promise<Hash> {
  const hash = createHash(file.hash.kind === "sha256" ? "sha256" : "sha1");
  if (file.hash.kind === "git-sha1") hash.update(`blob ${file.size}\0`);
  if (prefixOf !== null && sizeOrZero(prefixOf) > 0) {
    await pipeline(
      createReadStream(prefixOf),
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          cb();
        },
      }),
    );
  }
  return hash;
}

/** Throws a `corrupt` PullError (and deletes the file) when its size or hash is not the hub's. */
export async function verifyDownload(file: HubFile, partPath: string, digest: string): Promise<void> {
  const size = sizeOrZero(partPath);
  const problem =
    size !== file.size
      ? `${size} bytes instead of ${file.size}`
      : digest !== file.hash.value
        ? `${file.hash.kind} is ${digest}, the hub says ${file.hash.value}`
        : null;
  if (problem === null) return;
  await rm(partPath, { force: true });
  throw new PullError(
    "corrupt",
    `${file.path} failed verification: ${problem}; the damaged download was deleted`,
    "run the command again to download it afresh; if it fails again, a proxy or mirror (HF_ENDPOINT) is altering the file",
  );
}

/**
 * True when blobs/<etag> already holds the file: a regular file (not a link) of the listed size and hash, as
 * `hf cache verify` checks a cache (huggingface_hub utils/_verification.py: sha256 for LFS, git-sha1 otherwise).
 * A blob that fails is deleted, so the pull fetches it again.
 */
export async function isVerifiedBlob(file: HubFile, blobPath: string): Promise<boolean> {
  const st = await lstat(blobPath).catch(() => null);
  if (st === null) return false;
  if (st.isFile() && st.size === file.size) {
    const digest = (await startHash(file, blobPath)).digest("hex");
    if (digest === file.hash.value) return true;
  }
  await rm(blobPath, { force: true });
  return false;
}
