// What one `llm-runner check` finding is, and the timeout every probe of the machine runs under.

import type { FindingLevel } from "../finding-line.js";

export interface CheckResult {
  level: FindingLevel;
  name: string;
  message: string;
  fix?: string;
}

/** Rejects when p has not settled within ms (a hung docker socket or interpreter must not hang `check`). */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref();
    }),
  ]);
}
