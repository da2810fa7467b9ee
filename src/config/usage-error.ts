/**
 * A usage error (a bad flag, a missing argument): main prints "llm-runner <cmd>: <message>" and the command's
 * usage, and exits 2. Declared here, below the CLI, because config flag parsing raises it too.
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
