// Runs tasks side by side and fails as one: the first failure aborts the others (their partial files are
// kept), every task is waited for, and that first failure is thrown — not the interruptions it caused.
import { AbortedError } from "./aborted-error.js";

export async function runAll(
  tasks: Array<(signal: AbortSignal) => Promise<void>>,
  parent?: AbortSignal,
): Promise<void> {
  const abort = new AbortController();
  const signal = parent ? AbortSignal.any([parent, abort.signal]) : abort.signal;
  let failure: unknown = null;
  await Promise.all(
    tasks.map((task) =>
      task(signal).catch((err: unknown) => {
        if (failure === null || (failure instanceof AbortedError && !(err instanceof AbortedError)))
          failure = err;
        abort.abort();
      }),
    ),
  );
  if (failure !== null) throw failure;
}

/** Waits `ms` with `sleep`, or less when `signal` aborts. */
export async function sleepUnlessAborted(
  sleep: (ms: number) => Promise<void>,
  ms: number,
  signal: AbortSignal,
): Promise<void> {
  if (signal.aborted) return;
  let onAbort = () => {};
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([sleep(ms), aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
