import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** LLM_RUNNER_HOME cannot hold the runner's files (the ledger, the lock, the logs). */
export class HomeNotWritableError extends Error {
  override readonly name = "HomeNotWritableError";
  constructor(
    readonly home: string,
    readonly code: string,
  ) {
    super(
      `LLM_RUNNER_HOME (${home}) is not writable (${code}): the runner keeps its usage ledger, lock and logs ` +
        "there. Point LLM_RUNNER_HOME at a writable directory (e.g. LLM_RUNNER_HOME=$HOME/.llm-runner), or " +
        "make this one writable (remount it read-write, fix its owner or free space on its disk).",
    );
  }
}

/**
 * Creates the home if needed and writes and removes a probe file in it, so a read-only, full or foreign home
 * fails `start` at once, before any engine is started. Checks as the filesystem does (root included), not by
 * mode bits.
 */
export function assertHomeWritable(home: string): void {
  const probe = join(home, `.write-probe-${process.pid}`);
  try {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    writeFileSync(probe, "ok\n", { mode: 0o600 });
    rmSync(probe, { force: true });
  } catch (err) {
    throw new HomeNotWritableError(home, realCause(home, err));
  }
}

const codeOf = (err: unknown) =>
  (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));

/**
 * A recursive mkdir on a read-only filesystem reports ENOENT; the nearest existing ancestor, written to,
 * tells the real reason (EROFS, EACCES, ENOSPC).
 */
function realCause(home: string, err: unknown): string {
  if (codeOf(err) !== "ENOENT") return codeOf(err);
  let dir = dirname(home);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const probe = join(dir, `.write-probe-${process.pid}`);
  try {
    writeFileSync(probe, "ok\n");
    rmSync(probe, { force: true });
    return "ENOENT";
  } catch (inner) {
    return `${codeOf(inner)} on ${dir}`;
  }
}
