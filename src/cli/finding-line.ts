// One line per finding, the same in `check`, `flags` and `start`: ✔ ok, ! warning, ✘ problem, and the fix below it.
import { formatKvCacheLine, type KvCacheSummary } from "../config/kv-fit-check.js";

export type FindingLevel = "ok" | "warn" | "fail";

const MARK: Record<FindingLevel, string> = { ok: "✔", warn: "!", fail: "✘" };

export function formatFinding(f: { level: FindingLevel; message: string; fix?: string }): string {
  return `${MARK[f.level]} ${f.message}\n${f.fix ? `    fix: ${f.fix}\n` : ""}`;
}

/** The KV-cache estimate as a finding: ✔ when it fits, ! when it is within the estimate's band. */
export function kvCacheFinding(fit: KvCacheSummary): { level: FindingLevel; message: string } {
  return { level: fit.verdict === "fits" ? "ok" : "warn", message: formatKvCacheLine(fit) };
}
