// Checks on each entry of the hub's file list before any of it names a file on disk. A hub or mirror is not
// trusted: its oids become blob names and its paths snapshot links, so only the shapes the real hub sends pass.
// huggingface_hub accepts the same shapes (file_download.py: REGEX_COMMIT_HASH ^[0-9a-f]{40}$ for git oids,
// REGEX_SHA256 ^[0-9a-f]{64}$ for LFS etags, and _get_pointer_path keeps a file's path inside the snapshot).
import type { HubFile } from "./hub-file.js";
import { PullError } from "./pull-error.js";

export const GIT_OID = /^[0-9a-f]{40}$/;
export const SHA256 = /^[0-9a-f]{64}$/;

/** Why a repo-relative path from the hub cannot name a file under the snapshot folder, or null when it can. */
export function repoPathProblem(p: unknown): string | null {
  if (typeof p !== "string" || p === "") return "it is empty";
  if (p.length > 1024) return "it is longer than 1024 characters";
  // Control characters (Cc): NUL would cut the path short, the others could drive the operator's terminal.
  if (/\p{Cc}/u.test(p)) return "it contains a control character";
  if (p.includes("\\")) return "it contains a backslash";
  if (p.startsWith("/")) return "it is absolute";
  const parts = p.split("/");
  if (parts.includes("..")) return "it climbs out with '..'";
  if (parts.includes(".") || parts.includes("")) return "it has an empty or '.' segment";
  return null;
}

/** Why a size from the hub is not a byte count, or null when it is one. */
export function sizeProblem(n: unknown): string | null {
  if (typeof n !== "number" || !Number.isSafeInteger(n)) return "it is not a whole number";
  if (n < 0) return "it is negative";
  return null;
}

/** A quoted, escaped and shortened copy of a value the hub sent, safe to print. */
export function quoteHubValue(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function untrustedListError(host: string, repo: string, what: string): PullError {
  return new PullError(
    "hub_error",
    `the hub at ${host} sent a file list for ${repo} that a Hugging Face hub never sends: ${what}; nothing was downloaded from it`,
    "check HF_ENDPOINT: a mirror or proxy in between is serving a tampered file list; use https://huggingface.co or a mirror you trust, then run the command again",
  );
}

/** What @huggingface/hub's listFiles yields for one tree entry (GET /api/models/{id}/tree/{rev}). */
export interface TreeEntry {
  type: string;
  path: string;
  size: number;
  oid?: string;
  lfs?: { oid: string; size: number };
  xetHash?: string;
}

/**
 * The file a tree entry names, checked: a safe path, a whole size >= 0, and a 64-hex sha256 (LFS) or 40-hex git
 * oid. Null for folders and for files the hub lists without a hash (nothing to verify them against).
 */
export function hubFileFromEntry(entry: TreeEntry, host: string, repo: string): HubFile | null {
  if (entry.type !== "file") return null;
  const bad = (what: string) => untrustedListError(host, repo, what);
  const pathProblem = repoPathProblem(entry.path);
  if (pathProblem) throw bad(`the path ${quoteHubValue(entry.path)} is unsafe (${pathProblem})`);
  const name = entry.path;
  if (entry.lfs) {
    const sizeIssue = sizeProblem(entry.lfs.size);
    if (sizeIssue) throw bad(`${name} has the size ${quoteHubValue(entry.lfs.size)} (${sizeIssue})`);
    if (typeof entry.lfs.oid !== "string" || !SHA256.test(entry.lfs.oid))
      throw bad(`${name} has the LFS sha256 ${quoteHubValue(entry.lfs.oid)} (not 64 hex digits)`);
    return {
      path: name,
      size: entry.lfs.size,
      etag: entry.lfs.oid,
      hash: { kind: "sha256", value: entry.lfs.oid },
    };
  }
  if (entry.xetHash) {
    // Xet-backed repo files also carry their LFS sha256; one without it cannot be verified or named.
    throw new PullError(
      "hub_error",
      `the hub lists ${name} of ${repo} with a Xet hash but no LFS sha256`,
      "report this with the model id; meanwhile download the model with 'hf download' into MODEL_DIR",
    );
  }
  if (entry.oid === undefined || entry.oid === "") return null;
  const sizeIssue = sizeProblem(entry.size);
  if (sizeIssue) throw bad(`${name} has the size ${quoteHubValue(entry.size)} (${sizeIssue})`);
  if (typeof entry.oid !== "string" || !GIT_OID.test(entry.oid))
    throw bad(`${name} has the git oid ${quoteHubValue(entry.oid)} (not 40 hex digits)`);
  return { path: name, size: entry.size, etag: entry.oid, hash: { kind: "git-sha1", value: entry.oid } };
}
