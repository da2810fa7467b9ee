// One pull per model at a time (say `pull` in one terminal and `start` in another): a lock file holding the
// puller's pid, next to huggingface_hub's own locks in <cache>/.locks/models--ORG--NAME/. A lock whose pid
// is gone (a killed pull) is taken over.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { hfCacheFolderName } from "../config/model-info.js";
import { PullError } from "./pull-error.js";

export interface PullLock {
  release(): void;
}

export function acquirePullLock(cacheDir: string, repo: string, pid = process.pid): PullLock {
  const file = path.join(cacheDir, ".locks", hfCacheFolderName(repo), "llm-runner-pull.lock");
  mkdirSync(path.dirname(file), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o644);
      writeSync(fd, String(pid));
      closeSync(fd);
      return { release: () => rmSync(file, { force: true }) };
    } catch (err) {
      if ((err as { code?: string }).code !== "EEXIST") throw err;
      const holder = Number(readFileText(file));
      if (Number.isInteger(holder) && holder > 0 && holder !== pid && isAlive(holder)) {
        throw new PullError(
          "busy",
          `another llm-runner (pid ${holder}) is already downloading ${repo} into ${cacheDir}`,
          `wait for it to finish, or stop it (kill ${holder}); then run the command again`,
        );
      }
      rmSync(file, { force: true }); // stale: its owner is gone
    }
  }
  throw new PullError("busy", `cannot take the pull lock ${file}`, `remove ${file} if no pull is running`);
}

function readFileText(p: string): string {
  try {
    return readFileSync(p, "utf8").trim();
  } catch {
    return "";
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
}
