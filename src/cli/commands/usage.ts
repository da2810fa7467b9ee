// `llm-runner usage`: what the runner earned, by model and day, from the pricing ledger — the max_tokens quote
// the network charged against the price of the tokens actually generated.
import { existsSync } from "node:fs";
import { resolveHome } from "../../config/resolve-home.js";
import { ledgerPath, SqliteLedger } from "../../pricing/ledger.js";
import {
  formatSessionTable,
  formatUsageTable,
  overChargePercent,
  usagePerHour,
} from "../../pricing/usage-table.js";
import { type CliCommand, EXIT, UsageError } from "../cli-command.js";

/** --since: a UTC day (YYYY-MM-DD), or a span back from now (7d, 24h). */
export function parseSince(value: string, now: Date): Date {
  const span = /^(\d+)([dh])$/.exec(value);
  if (span) {
    const hours = Number(span[1]) * (span[2] === "d" ? 24 : 1);
    return new Date(now.getTime() - hours * 3_600_000);
  }
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (day) {
    const date = new Date(Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3])));
    if (date.toISOString().slice(0, 10) === value) return date;
  }
  throw new UsageError(
    `--since '${value}' is not a day or a span: use YYYY-MM-DD (UTC), Nd or Nh (e.g. 7d, 24h)`,
  );
}

// Sums of binary floats: 12 decimals is below a token's price at any sane rate, and hides the noise.
function round(value: number): number {
  return Number(value.toFixed(12));
}

function parseArgs(args: string[]): {
  json: boolean;
  bySession: boolean;
  since: string | null;
  home: string | null;
} {
  const out = { json: false, bySession: false, since: null as string | null, home: null as string | null };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const [name, inline] =
      arg.startsWith("--") && arg.includes("=")
        ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
        : [arg, undefined];
    if (name === "--json" && inline === undefined) {
      out.json = true;
    } else if (name === "--by-session" && inline === undefined) {
      out.bySession = true;
    } else if (name === "--since" || name === "--home") {
      const value = inline ?? args[++i];
      if (value === undefined || value === "") throw new UsageError(`${name} needs a value`);
      if (name === "--since") out.since = value;
      else out.home = value;
    } else {
      throw new UsageError(`unknown argument '${arg}'`);
    }
  }
  return out;
}

export const usageCommand: CliCommand = {
  name: "usage",
  summary: "sum the pricing ledger by model and day: max_tokens quotes vs usage-based prices",
  help: `Usage: llm-runner usage [--json] [--by-session] [--since YYYY-MM-DD|Nd|Nh] [--home DIR]

Reads the pricing ledger (<home>/ledger.sqlite, one row per finished request) and sums it by model and UTC
day: requests served, requests rejected, prompt and completion tokens, the max_tokens quote total (what the
network charges), the usage-based total (completion_tokens at the same price) and the over-charge
((quoted - usage) / usage). Rejected requests (not ready, queue full, refused by the engine) are counted
but not priced.

With --by-session it sums the requests a Livepeer Live Runner orchestrator proxied, one line per session
(Livepeer-Session-Id): requests, tokens, compute seconds (the time with at least one of its requests in
flight, which is what per-second billing charges for a single-shot session), the usage-based price, and that
price per hour of compute: the Live Runner price per hour at which billing by the second earns what billing
by the token would.

Flags:
  --json          print the rows as JSON instead of a table
  --by-session    one line per Live Runner session instead of per model and day
  --since VALUE   only requests from this UTC day on (YYYY-MM-DD), or from the last N days/hours (7d, 24h)
  --home DIR      the runner's home (default: $LLM_RUNNER_HOME, else ~/.llm-runner)

Examples:
  llm-runner usage
  llm-runner usage --since 7d
  llm-runner usage --by-session --since 24h
  llm-runner usage --json --since 2025-01-01 --home /srv/llm-runner
`,
  async run(args, io) {
    const options = parseArgs(args);
    const since = options.since === null ? undefined : parseSince(options.since, new Date());
    const path = ledgerPath(resolveHome(io.env, io.cwd, options.home));
    if (!existsSync(path)) {
      // JSON readers get an empty list on stdout; people get the sentence (on stderr alongside JSON).
      if (options.json) {
        io.stdout.write("[]\n");
        io.stderr.write(`no usage recorded yet at ${path}\n`);
      } else {
        io.stdout.write(`no usage recorded yet at ${path}\n`);
      }
      return EXIT.ok;
    }
    const ledger = SqliteLedger.openReadOnly(path);
    try {
      if (options.bySession) {
        const sessions = ledger.sessionUsage(since ? { since } : {});
        if (options.json) {
          const out = sessions.map((r) => ({
            ...r,
            computeSeconds: round(r.computeSeconds),
            quoteTotal: round(r.quoteTotal),
            usageTotal: round(r.usageTotal),
            usagePerHour: (() => {
              const h = usagePerHour(r);
              return h === null ? null : round(h);
            })(),
          }));
          io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        } else if (sessions.length === 0) {
          io.stdout.write(
            `no Live Runner sessions recorded${since ? ` since ${since.toISOString()}` : ""} in ${path}\n`,
          );
        } else {
          io.stdout.write(formatSessionTable(sessions));
        }
        return EXIT.ok;
      }
      const rows = ledger.summary(since ? { since } : {});
      if (options.json) {
        const out = rows.map((r) => ({
          ...r,
          quoteTotal: round(r.quoteTotal),
          usageTotal: round(r.usageTotal),
          difference: round(r.difference),
          overChargePercent: overChargePercent(r),
        }));
        io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      } else if (rows.length === 0) {
        io.stdout.write(`no requests recorded${since ? ` since ${since.toISOString()}` : ""} in ${path}\n`);
      } else {
        io.stdout.write(formatUsageTable(rows));
      }
    } finally {
      ledger.close();
    }
    return EXIT.ok;
  },
};
