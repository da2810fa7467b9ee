/** The pull was interrupted (Ctrl-C, SIGTERM): what was downloaded is kept for the next run. */
export class AbortedError extends Error {
  override readonly name = "AbortedError";
}
