import type { CliCommand } from "../cli-command.js";

// Every command, in the order `llm-runner --help` lists them. Each is loaded only when it runs, so that
// `status` or `stop` do not pay for loading the gateway, dockerode and SQLite.
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<CliCommand>;
}

export const COMMANDS: CommandEntry[] = [
  {
    name: "start",
    summary: "start the engine and the gateway (foreground, or --detach)",
    load: async () => (await import("./start.js")).startCommand,
  },
  {
    name: "pull",
    summary: "download a model (only what vLLM loads) into MODEL_DIR, with progress and resume",
    load: async () => (await import("./pull.js")).pullCommand,
  },
  {
    name: "stop",
    summary: "drain and stop the running instance",
    load: async () => (await import("./stop.js")).stopCommand,
  },
  {
    name: "reload",
    summary: "re-read the configuration and restart the engines one replica at a time",
    load: async () => (await import("./reload.js")).reloadCommand,
  },
  {
    name: "status",
    summary: "show state, model, uptime, restarts, traffic and revenue",
    load: async () => (await import("./status.js")).statusCommand,
  },
  {
    name: "logs",
    summary: "print (or follow) the supervisor's or the engine's log",
    load: async () => (await import("./logs.js")).logsCommand,
  },
  {
    name: "usage",
    summary: "sum the pricing ledger by model and day: max_tokens quotes vs usage-based prices",
    load: async () => (await import("./usage.js")).usageCommand,
  },
  {
    name: "orchestrator",
    summary:
      "print the aiModels.json entry (or with --live-runner the runners.json entry) for a Livepeer orchestrator",
    load: async () => (await import("./orchestrator.js")).orchestratorCommand,
  },
  {
    name: "check",
    summary: "preflight doctor: config, Docker/NVIDIA or python, GPUs, model files, ports",
    load: async () => (await import("./check.js")).checkCommand,
  },
  {
    name: "flags",
    summary: "print the engine command the current configuration produces (dry run)",
    load: async () => (await import("./flags.js")).flagsCommand,
  },
];
