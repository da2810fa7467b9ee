// The GPU checks (gpu-checks.ts) run once per replica's GPU group, and their findings are reported all at once:
// a finding every group shares is said once ("replicas 0–3"), one only some groups have names them.
import type { GpuCheckResult } from "./gpu-checks.js";
import type { Finding } from "./model-checks.js";
import type { ReplicaSlot } from "./replica-plan.js";

/**
 * groups null: one engine, checked once on GPU_IDS as given (check(undefined)). Otherwise check(group) for each
 * replica; the KV-cache estimate is the first group's (the groups have the same size).
 */
export function checkReplicaGpus(
  groups: ReplicaSlot[] | null,
  check: (gpuIds: number[] | undefined) => GpuCheckResult,
): GpuCheckResult {
  if (groups === null) return check(undefined);
  const issues = new Map<string, { finding: Finding; replicas: number[] }>();
  const warnings = new Map<string, number[]>();
  let kvCache: GpuCheckResult["kvCache"];
  for (const slot of groups) {
    const result = check(slot.gpuIds === "all" ? undefined : slot.gpuIds);
    if (kvCache === undefined && result.kvCache) kvCache = result.kvCache;
    for (const finding of result.issues) {
      const key = `${finding.variable}\n${finding.message}`;
      const seen = issues.get(key);
      if (seen) seen.replicas.push(slot.index);
      else issues.set(key, { finding, replicas: [slot.index] });
    }
    for (const w of result.warnings) warnings.set(w, [...(warnings.get(w) ?? []), slot.index]);
  }
  const who = (replicas: number[]) =>
    replicas.length === groups.length
      ? `every replica (${groups.length})`
      : `replica${replicas.length === 1 ? "" : "s"} ${replicas.join(", ")} (GPU ${replicas.map((i) => gpusOf(groups, i)).join(" | ")})`;
  return {
    issues: [...issues.values()].map(({ finding, replicas }) => ({
      variable: finding.variable,
      message: `${finding.message} [${who(replicas)}]`,
    })),
    warnings: [...warnings.entries()].map(([w, replicas]) => `${w} [${who(replicas)}]`),
    ...(kvCache ? { kvCache } : {}),
  };
}

function gpusOf(groups: ReplicaSlot[], index: number): string {
  const ids = groups.find((g) => g.index === index)?.gpuIds ?? "all";
  return ids === "all" ? "all" : ids.join(",");
}
