// The Hugging Face hub cache layout, as huggingface_hub writes it and vLLM (through it) reads it:
//   <cache>/models--ORG--NAME/blobs/<etag>            file contents; etag = sha256 for LFS files, git blob sha1 otherwise
//   <cache>/models--ORG--NAME/snapshots/<commit>/<path> relative symlink to ../../blobs/<etag>
//   <cache>/models--ORG--NAME/refs/main                 the commit main pointed at (no newline)
// Partial downloads are blobs/<etag>.incomplete (huggingface_hub's name), resumed with a Range request. A large
// file fetched in parts side by side has holes until it is done, so it is blobs/<etag>.parts with a record of
// the bytes written in blobs/<etag>.parts.json: huggingface_hub resumes an .incomplete from its size, unchecked.
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { mkdir, readlink, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { hfCacheFolderName } from "../config/model-info.js";
import { GIT_OID, SHA256 } from "./hub-file-check.js";

export interface RepoCache {
  repoDir: string;
  blobPath(etag: string): string;
  incompletePath(etag: string): string;
  partsPath(etag: string): string;
  snapshotDir(commit: string): string;
  refPath(revision: string): string;
}

export function repoCache(cacheDir: string, repo: string): RepoCache {
  const repoDir = path.join(cacheDir, hfCacheFolderName(repo));
  return {
    repoDir,
    blobPath: (etag) => path.join(repoDir, "blobs", blobName(etag)),
    incompletePath: (etag) => path.join(repoDir, "blobs", `${blobName(etag)}.incomplete`),
    partsPath: (etag) => path.join(repoDir, "blobs", `${blobName(etag)}.parts`),
    snapshotDir: (commit) => inside(path.join(repoDir, "snapshots"), commit),
    refPath: (revision) => inside(path.join(repoDir, "refs"), revision),
  };
}

/** A blob's file name: only a git oid or a sha256 may name one, so the hub cannot pick a path. */
function blobName(etag: string): string {
  if (!GIT_OID.test(etag) && !SHA256.test(etag))
    throw new Error(`refusing the blob name ${JSON.stringify(etag)}: not a 40- or 64-hex-digit hash`);
  return etag;
}

/** `dir`/`rel`, or an error when `rel` would lead out of `dir` (huggingface_hub's _get_pointer_path check). */
export function inside(dir: string, rel: string): string {
  const full = path.join(dir, rel);
  const back = path.relative(dir, full);
  if (back === "" || back.startsWith("..") || path.isAbsolute(back))
    throw new Error(`refusing the path ${JSON.stringify(rel)}: it leads out of ${dir}`);
  return full;
}

/** Links snapshots/<commit>/<file> to its blob with a relative symlink (so the cache can be moved). */
export async function linkSnapshotFile(
  cache: RepoCache,
  commit: string,
  file: string,
  etag: string,
): Promise<void> {
  const pointer = inside(cache.snapshotDir(commit), file);
  const target = path.relative(path.dirname(pointer), cache.blobPath(etag));
  await mkdir(path.dirname(pointer), { recursive: true });
  try {
    if ((await readlink(pointer)) === target) return;
  } catch {
    // missing, or a plain file: replaced below
  }
  await rm(pointer, { force: true });
  await symlink(target, pointer);
}

/**
 * Marks files the repo does not have at this commit, as huggingface_hub does after a 404
 * (<repo>/.no_exist/<commit>/<file>), so that offline, transformers' probes for optional files
 * (added_tokens.json, chat_template.jinja, …) are answered from the cache instead of failing.
 */
export async function markAbsent(cache: RepoCache, commit: string, files: string[]): Promise<void> {
  const dir = path.join(cache.repoDir, ".no_exist", commit);
  await mkdir(dir, { recursive: true });
  for (const f of files) await writeFile(path.join(dir, f), "");
}

export async function writeRef(cache: RepoCache, revision: string, commit: string): Promise<void> {
  await mkdir(path.dirname(cache.refPath(revision)), { recursive: true });
  await writeFile(cache.refPath(revision), commit);
}

/** Size of a file, or 0 when it does not exist. */
export function sizeOrZero(p: string): number {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
}

export interface LocalSnapshot {
  commit: string;
  dir: string;
  /** Files in the snapshot (relative paths) and the blob each resolves to. */
  files: Map<string, string>;
}

/**
 * Reads a repo back the way huggingface_hub resolves a cached snapshot offline: refs/main -> the commit ->
 * snapshots/<commit>/<file> -> (symlink) blob. Returns null when refs/main or its snapshot folder is missing.
 */
export function readLocalSnapshot(cacheDir: string, repo: string, revision = "main"): LocalSnapshot | null {
  const cache = repoCache(cacheDir, repo);
  let commit: string;
  try {
    commit = readFileSync(cache.refPath(revision), "utf8").trim();
  } catch {
    return null;
  }
  let dir: string;
  try {
    dir = cache.snapshotDir(commit); // refuses an empty ref or one that leads out of snapshots/
  } catch {
    return null;
  }
  if (!existsSync(dir)) return null;
  const files = new Map<string, string>();
  const walk = (rel: string) => {
    const abs = path.join(dir, rel);
    for (const name of readdirNames(abs)) {
      const relPath = rel ? `${rel}/${name}` : name;
      const full = path.join(dir, relPath);
      let real: string;
      try {
        real = realpathSync(full);
      } catch {
        continue; // a dangling link: the blob is gone, so the file is missing
      }
      if (statSync(real).isDirectory()) walk(relPath);
      else files.set(relPath, real);
    }
  };
  walk("");
  return { commit, dir, files };
}

function readdirNames(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/**
 * True when a snapshot holds what vLLM needs to start offline: config.json and its weights (every shard the
 * safetensors index names, or else at least one top-level weights file). A pull links files into the
 * snapshot only once all of them are verified, so a half-finished pull is never taken for a model.
 */
export function isSnapshotComplete(snapshot: LocalSnapshot): boolean {
  if (!snapshot.files.has("config.json")) return false;
  const index = snapshot.files.get("model.safetensors.index.json");
  if (index) {
    try {
      const map = (JSON.parse(readFileSync(index, "utf8")) as { weight_map?: Record<string, string> })
        .weight_map;
      if (map && typeof map === "object") return Object.values(map).every((f) => snapshot.files.has(f));
    } catch {
      return false;
    }
  }
  return [...snapshot.files.keys()].some((f) => !f.includes("/") && /\.(safetensors|bin|pt)$/.test(f));
}
