import type { CliCommand } from "../cli-command.js";
import { flagsCommand } from "./flags.js";
import { logsCommand } from "./logs.js";
import { startCommand } from "./start.js";
import { statusCommand } from "./status.js";
import { stopCommand } from "./stop.js";

// Every command, in the order `llm-runner --help` lists them.
export const COMMANDS: CliCommand[] = [startCommand, stopCommand, statusCommand, logsCommand, flagsCommand];
