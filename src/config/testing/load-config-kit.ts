// Shared by the loadConfig unit tests: a valid config or its issues, from an environment.
import path from "node:path";
import { staticGpuProbe } from "../../gpu/static-probe.js";
import { H100 } from "../../gpu/testing/gpu-fixtures.js";
import type { GpuInfo } from "../../gpu/types.js";
import { formatConfigIssues } from "../config-issues.js";
import { type LoadConfigInput, loadConfig } from "../load-config.js";
import type { ConfigIssue } from "../types.js";

export const REPO = path.resolve(import.meta.dirname, "../../..");
export const HF_CACHE = path.join(REPO, "test/fixtures/hf-cache");
export const MODELS = path.join(REPO, "test/fixtures/models");
export const HOME = "/home/operator"; // does not exist: no default HF cache to find

export async function ok(env: Record<string, string>, extra: Partial<LoadConfigInput> = {}) {
  const r = await loadConfig({ env: { HOME, ...env }, cwd: REPO, ...extra });
  if (!r.ok) throw new Error(`expected a valid config, got:\n${formatConfigIssues(r.issues)}`);
  return r;
}
export async function bad(
  env: Record<string, string>,
  extra: Partial<LoadConfigInput> = {},
): Promise<ConfigIssue[]> {
  const r = await loadConfig({ env: { HOME, ...env }, cwd: REPO, ...extra });
  if (r.ok) throw new Error(`expected problems, got a valid config: ${JSON.stringify(r.config)}`);
  return r.issues;
}

export const h100: GpuInfo = H100;
export const gpus = (n: number) =>
  staticGpuProbe(Array.from({ length: n }, (_, i) => ({ ...h100, index: i })));
