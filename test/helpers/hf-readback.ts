import { readFileSync, readlinkSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";

/**
 * Reads a file back from a hub cache the way huggingface_hub resolves it offline (try_to_load_from_cache):
 * refs/main holds the commit; snapshots/<commit>/<file> must exist; it is a relative symlink into blobs/.
 * Returns the blob's name and bytes; throws when any step of that chain is broken.
 */
export function readBack(
  cacheDir: string,
  repo: string,
  file: string,
): { blob: string; link: string; bytes: Buffer } {
  const repoDir = join(cacheDir, `models--${repo.split("/").join("--")}`);
  const commit = readFileSync(join(repoDir, "refs", "main"), "utf8");
  if (!/^[0-9a-f]{40}$/.test(commit))
    throw new Error(`refs/main holds ${JSON.stringify(commit)}, not a commit hash`);
  const pointer = join(repoDir, "snapshots", commit, file);
  const link = readlinkSync(pointer);
  if (isAbsolute(link)) throw new Error(`${pointer} links to an absolute path ${link}`);
  const target = resolve(dirname(pointer), link);
  if (dirname(target) !== join(repoDir, "blobs"))
    throw new Error(`${pointer} does not link into blobs/: ${target}`);
  return { blob: target.slice(target.lastIndexOf("/") + 1), link, bytes: readFileSync(target) };
}
