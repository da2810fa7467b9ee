// A command whose promise never settles would let Node exit once nothing else is pending — with code 0, as if it
// had succeeded (a lost worker thread's reply did that to `pull` once). This turns that exit into a failure
// that says so.
import { EXIT } from "./cli-command.js";

export interface ExitingProcess {
  once(event: "beforeExit", listener: () => void): unknown;
  exitCode?: number | string | null | undefined;
}

/** Watches `work`: if the process is about to exit while it is still pending, exit 1 with a message. */
export function failIfUnsettled(
  work: Promise<unknown>,
  proc: ExitingProcess,
  stderr: { write(s: string): unknown },
  what: string,
): void {
  let settled = false;
  const done = () => {
    settled = true;
  };
  work.then(done, done);
  proc.once("beforeExit", () => {
    if (settled) return;
    stderr.write(
      `llm-runner ${what}: stopped before it finished, with nothing left to wait for; this is a bug in llm-runner — please report it with the output above\n`,
    );
    proc.exitCode = EXIT.failure;
  });
}
