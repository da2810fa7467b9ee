// Who may read LLM_RUNNER_HOME: the ledger (every request's prices), the logs and the instance files are the
// operator's alone. New files are created 0600 where they are written; this brings files an older version or
// another umask left (0644) back to 0600 at start, and says when the folder itself is open to other users.
import { chmodSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { LOCK_FILE } from "./home-lock.js";
import { instancePaths } from "./instance-files.js";

/** The runner's own files in the home, by name: a home shared with other files keeps theirs untouched. */
function ownFiles(home: string): string[] {
  const paths = instancePaths(home);
  const ledger = [paths.ledger, `${paths.ledger}-wal`, `${paths.ledger}-shm`, `${paths.ledger}-journal`];
  const named = [
    paths.instance,
    paths.status,
    paths.runnerLog,
    paths.reload,
    join(home, LOCK_FILE),
    ...ledger,
  ];
  const listed = (dir: string, match: RegExp) => {
    try {
      return readdirSync(dir)
        .filter((f) => match.test(f))
        .map((f) => join(dir, f));
    } catch {
      return [];
    }
  };
  // engine.log and engine-<N>.log (engine-logs.ts); engines/<instance>.json (the process driver's pid files).
  return [...named, ...listed(home, /^engine(-\d+)?\.log$/), ...listed(join(home, "engines"), /\.json$/)];
}

/**
 * Makes the runner's files in `home` 0600 (and its engines/ folder 0700), never following a link. Returns a
 * warning when the home folder itself lets other users in (its names and sizes would show), or null.
 */
export function keepHomePrivate(home: string): string | null {
  for (const file of ownFiles(home)) tighten(file, 0o600);
  tighten(join(home, "engines"), 0o700);
  const mode = modeOf(home);
  if (mode === null || (mode & 0o077) === 0) return null;
  const octal = (mode & 0o777).toString(8);
  return `LLM_RUNNER_HOME (${home}) is open to other users (mode ${octal}): the ledger, logs and instance files in it are kept 0600, but other users can list them. Run: chmod 700 ${home}`;
}

function modeOf(path: string): number | null {
  try {
    return lstatSync(path).mode;
  } catch {
    return null;
  }
}

function tighten(path: string, mode: number): void {
  try {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink() || (stat.mode & 0o777) === mode) return;
    chmodSync(path, mode);
  } catch {
    // absent, or not ours to change: writing it later fails with its own error
  }
}
