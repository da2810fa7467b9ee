import { parseArgs } from "node:util";
import { resolveHome } from "../../config/resolve-home.js";
import { isAlive, waitForExit } from "../../engine/process-group.js";
import { findRunningInstance } from "../../instance/instance-files.js";
import { removeOrphanEngines } from "../../instance/orphans.js";
import { type CliCommand, EXIT, UsageError } from "../cli-command.js";

const HELP = `Usage: llm-runner stop [--force] [--timeout SECONDS] [--home DIR]

Stops the running llm-runner of this LLM_RUNNER_HOME: stops admitting requests, lets in-flight ones finish
(up to DRAIN_TIMEOUT), stops the engine, and returns when the engine container/process is gone.

Flags:
  --force            do not wait for in-flight requests; stop the engine at once
  --timeout SECONDS  how long to wait before killing the runner outright (default 90)
  --home DIR         the runner's state folder (default: LLM_RUNNER_HOME or ~/.llm-runner)

Examples:
  llm-runner stop
  llm-runner stop --force
`;

export const stopCommand: CliCommand = {
  name: "stop",
  summary: "drain and stop the running instance",
  help: HELP,
  async run(args, io) {
    let values: { force?: boolean; timeout?: string; home?: string };
    try {
      values = parseArgs({
        args,
        options: { force: { type: "boolean" }, timeout: { type: "string" }, home: { type: "string" } },
        strict: true,
        allowPositionals: false,
      }).values;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const timeoutS = values.timeout === undefined ? 90 : Number(values.timeout);
    if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
      throw new UsageError(`--timeout must be a positive number of seconds, got '${values.timeout}'`);
    }
    const home = resolveHome(io.env, io.cwd, values.home);
    const instance = findRunningInstance(home);
    if (!instance) {
      io.stderr.write(`llm-runner is not running (no live instance in ${home}).\n`);
      // A runner killed with -9 leaves its engine behind: clean it up here too.
      const removed = await removeOrphanEngines(home, io.env);
      if (removed.length > 0)
        io.stderr.write(`removed ${removed.length} orphaned engine(s): ${removed.join(", ")}\n`);
      return EXIT.notRunning;
    }

    io.stderr.write(
      `stopping llm-runner (pid ${instance.pid}, ${instance.url})${values.force ? " now" : ", draining"}…\n`,
    );
    process.kill(instance.pid, "SIGTERM");
    // The runner treats a second signal as "force".
    if (values.force) setTimeout(() => isAlive(instance.pid) && process.kill(instance.pid, "SIGINT"), 100);
    if (await waitForExit(instance.pid, timeoutS * 1000)) {
      io.stderr.write("stopped.\n");
      return EXIT.ok;
    }
    io.stderr.write(`the runner did not stop within ${timeoutS} s; killing it and its engine\n`);
    process.kill(instance.pid, "SIGKILL");
    await waitForExit(instance.pid, 5_000);
    const removed = await removeOrphanEngines(home, io.env, instance.driver);
    io.stderr.write(`killed; removed engine(s): ${removed.join(", ") || "none left"}\n`);
    return EXIT.failure;
  },
};
