// Work a runner does before its engines start (downloading the model), while its gateway already answers: the
// progress shows as loading on /health, /ready, status and heartbeats; a PrepareFailed as the runner failed.

export interface PrepareStep {
  run(report: (progress: number | null, detail: string) => void, signal: AbortSignal): Promise<void>;
}

/** Why the preparation failed, worded for the operator (the fix in `hint`). */
export class PrepareFailed extends Error {
  override readonly name = "PrepareFailed";
  constructor(
    message: string,
    readonly hint: string | undefined,
    readonly reason: "pull_failed" | "bad_config" = "pull_failed",
  ) {
    super(message);
  }
}
