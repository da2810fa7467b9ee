import { chmodSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { keepHomePrivate } from "./home-files.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function folder(mode: number): string {
  const dir = mkdtempSync(join(tmpdir(), "llmr-home-files-"));
  dirs.push(dir);
  chmodSync(dir, mode);
  return dir;
}

const modeOf = (p: string) => statSync(p).mode & 0o777;

describe("keepHomePrivate", () => {
  it("makes the runner's files 0600 but touches no other file, and follows no link", () => {
    const home = folder(0o700);
    const elsewhere = join(folder(0o700), "target.txt");
    writeFileSync(elsewhere, "x", { mode: 0o644 });
    for (const f of ["ledger.sqlite", "ledger.sqlite-wal", "status.json", "engine-2.log", "notes.txt"])
      writeFileSync(join(home, f), "x", { mode: 0o644 });
    symlinkSync(elsewhere, join(home, "engine.log"));
    expect(keepHomePrivate(home)).toBeNull();
    for (const f of ["ledger.sqlite", "ledger.sqlite-wal", "status.json", "engine-2.log"])
      expect(modeOf(join(home, f)), f).toBe(0o600);
    expect(modeOf(join(home, "notes.txt"))).toBe(0o644);
    expect(modeOf(elsewhere)).toBe(0o644);
  });

  it("says when the home folder is open to other users, with the chmod that fixes it", () => {
    const home = folder(0o750);
    expect(keepHomePrivate(home)).toBe(
      `LLM_RUNNER_HOME (${home}) is open to other users (mode 750): the ledger, logs and instance files in it are kept 0600, but other users can list them. Run: chmod 700 ${home}`,
    );
    expect(modeOf(home)).toBe(0o750);
  });
});
