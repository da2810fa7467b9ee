// `llm-runner reload`: SIGHUP to the running instance, then its outcome from reload.json (instance/reload.ts):
// the configuration read again from the sources `start` used, checked in full, and the replicas rolled one at
// a time. An invalid configuration changes nothing: its problems are printed and the exit code is 2.
import { parseArgs } from "node:util";
import { formatConfigIssues } from "../../config/config-issues.js";
import { resolveHome } from "../../config/resolve-home.js";
import { findRunningInstance, instancePaths } from "../../instance/instance-files.js";
import { readReloadRecord } from "../../instance/reload-record.js";
import { type CliCommand, EXIT, UsageError } from "../cli-command.js";

const HELP = `Usage: llm-runner reload [--timeout SECONDS] [--home DIR]

Makes the running llm-runner read its configuration again, from the same sources as 'start': the environment
it was started with, its --env-file / LLM_RUNNER_ENV_FILE (read afresh: edit it first), and start's flags.
The new configuration is checked in full; if anything is wrong, nothing changes and the problems are listed.
Otherwise the engines restart one replica at a time: no new requests to it, its in-flight requests finish,
its engine restarts with the new configuration, and the next one goes once it is ready. With 2 or more
replicas no request fails; with one, /health says LOADING and requests are refused until it is back.
A change of REPLICAS adds or removes replicas the same way. Settings of the gateway itself (PORT, HOST,
AUTH_TOKEN, MODEL_ID, prices, QUEUE_SIZE, ...) need a stop and start. The same as: kill -HUP <runner pid>.

Flags:
  --timeout SECONDS  how long to wait for the reload to finish (default 1800)
  --home DIR         the runner's state folder (default: LLM_RUNNER_HOME or ~/.llm-runner)

Examples:
  echo MAX_NUM_SEQS=64 >> /etc/llm-runner.env && llm-runner reload
  echo REPLICAS=4 >> /etc/llm-runner.env && llm-runner reload
`;

export const reloadCommand: CliCommand = {
  name: "reload",
  summary: "re-read the configuration and restart the engines one replica at a time",
  help: HELP,
  async run(args, io) {
    let values: { timeout?: string; home?: string };
    try {
      values = parseArgs({
        args,
        options: { timeout: { type: "string" }, home: { type: "string" } },
        strict: true,
        allowPositionals: false,
      }).values;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const timeoutS = values.timeout === undefined ? 1800 : Number(values.timeout);
    if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
      throw new UsageError(`--timeout must be a positive number of seconds, got '${values.timeout}'`);
    }
    const home = resolveHome(io.env, io.cwd, values.home);
    const instance = findRunningInstance(home);
    if (!instance) {
      io.stderr.write(`llm-runner is not running (no live instance in ${home}); nothing to reload.\n`);
      return EXIT.notRunning;
    }
    const file = instancePaths(home).reload;
    const before = readReloadRecord(file)?.startedAt ?? "";
    io.stderr.write(`reloading llm-runner (pid ${instance.pid}, ${instance.url})…\n`);
    process.kill(instance.pid, "SIGHUP");
    const deadline = Date.now() + timeoutS * 1000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      const record = readReloadRecord(file);
      if (!record || record.startedAt === before) continue;
      if (record.state === "running") continue;
      if (record.state === "invalid") {
        io.stderr.write(`${record.message}\n${formatConfigIssues(record.issues ?? [])}`);
        return EXIT.usage;
      }
      io.stderr.write(`${record.message}\n`);
      return record.state === "failed" ? EXIT.failure : EXIT.ok;
    }
    io.stderr.write(
      `the reload did not finish within ${timeoutS} s; it goes on in the runner ('llm-runner status' shows each replica).\n`,
    );
    return EXIT.failure;
  },
};
