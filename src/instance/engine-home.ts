// Where this instance's engines come from and whose they are: shared by the wiring (run-instance.ts), orphan
// cleanup and `check`, so none of them imports another's module for a constant.
import { createHash } from "node:crypto";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repo's runtime/ folder (holds the llm_runtime Python package), from src/instance or dist/instance. */
export const RUNTIME_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../runtime");

/** A stable id of this LLM_RUNNER_HOME, so orphan cleanup only touches engines of this home. */
export function ownerIdFor(home: string): string {
  return createHash("sha256").update(resolve(home)).digest("hex").slice(0, 12);
}

/** <home>/engines: the process driver's pid files and the docker driver's leases. */
export function engineRecordsDir(home: string): string {
  return join(home, "engines");
}
