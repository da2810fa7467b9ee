import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { resolveHome } from "../../config/resolve-home.js";
import {
  findRunningInstance,
  instancePaths,
  readJson,
  type StatusRecord,
} from "../../instance/instance-files.js";
import type { LiveRunnerSnapshot } from "../../livepeer/live-runner/live-runner-agent.js";
import { type SessionTotals, SqliteLedger } from "../../pricing/ledger.js";
import { healthStatus } from "../../supervisor/health-status.js";
import type { ReplicaSnapshot } from "../../supervisor/replica-set.js";
import type { ModelFigures } from "../../supervisor/types.js";
import { type CliCommand, EXIT, UsageError } from "../cli-command.js";

const HELP = `Usage: llm-runner status [--json] [--home DIR]

Shows the running instance: state, model, engine and driver, GPUs, uptime, restarts, requests in flight,
and, from the ledger since the runner started, requests and tokens served and revenue quoted (max-token
pricing) vs. what real usage would have cost.
Exit code 3 when nothing is running.

Flags:
  --json      machine-readable output
  --home DIR  the runner's state folder (default: LLM_RUNNER_HOME or ~/.llm-runner)

Examples:
  llm-runner status
  llm-runner status --json | jq .state
`;

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts = [d ? `${d}d` : "", h ? `${h}h` : "", m ? `${m}m` : "", `${s % 60}s`].filter(Boolean);
  return parts.slice(0, 3).join(" ");
}

export const statusCommand: CliCommand = {
  name: "status",
  summary: "show state, model, uptime, restarts, traffic and revenue",
  help: HELP,
  async run(args, io) {
    let values: { json?: boolean; home?: string };
    try {
      values = parseArgs({
        args,
        options: { json: { type: "boolean" }, home: { type: "string" } },
        strict: true,
      }).values;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const home = resolveHome(io.env, io.cwd, values.home);
    const instance = findRunningInstance(home);
    const status = instance ? readJson<StatusRecord>(instancePaths(home).status) : null;
    if (!instance || !status) {
      if (values.json) io.stdout.write(`${JSON.stringify({ running: false, home })}\n`);
      else
        io.stderr.write(
          `llm-runner is not running (no live instance in ${home}).\nStart it with 'llm-runner start'.\n`,
        );
      return EXIT.notRunning;
    }
    const snap = status.snapshot;
    const uptimeMs = Date.now() - Date.parse(instance.startedAt);
    const t = {
      ...(ledgerTotals(instancePaths(home).ledger, instance.startedAt) ?? status.totals),
      currency: status.totals.currency,
    };
    const overcharge = t.usage > 0 ? ((t.quoted - t.usage) / t.usage) * 100 : null;
    if (values.json) {
      io.stdout.write(
        `${JSON.stringify(
          {
            running: true,
            pid: instance.pid,
            url: instance.url,
            state: snap.state,
            health: healthStatus(snap),
            progress: snap.progress,
            model: snap.modelId,
            engine: snap.engine,
            driver: snap.driver,
            engineId: snap.engineId,
            gpus: status.gpus,
            startedAt: instance.startedAt,
            uptimeSeconds: Math.round(uptimeMs / 1000),
            restarts: snap.restarts,
            inFlight: snap.inFlight,
            lastError: snap.lastError,
            ...(status.replicas
              ? { replicas: status.replicas.map((r) => replicaJson(r, status.models !== undefined)) }
              : {}),
            ...(status.workers ? { gatewayWorkers: status.workers } : {}),
            ...(status.liveRunner ? { liveRunner: liveRunnerJson(status.liveRunner) } : {}),
            ...(status.models ? { models: modelsJson(status) } : {}),
            totals: t,
            updatedAt: status.updatedAt,
            version: instance.version,
          },
          null,
          2,
        )}\n`,
      );
      return EXIT.ok;
    }
    const lines: Array<[string, string]> = [
      ["llm-runner", `running (pid ${instance.pid}) at ${instance.url}  v${instance.version}`],
      [
        "state",
        `${snap.state} (/health ${healthStatus(snap)})${snap.state === "loading" && snap.progress !== null ? ` ${Math.round(snap.progress * 100)}% ${snap.progressDetail ?? ""}` : ""}`,
      ],
      ["model", snap.modelId],
      [
        "engine",
        `${snap.engine} via ${snap.driver}${snap.engineId ? ` (${snap.engineId.slice(0, 12)})` : ""}`,
      ],
      ["gpus", status.gpus],
      ["uptime", formatDuration(uptimeMs)],
      ["restarts", String(snap.restarts)],
      ["in flight", String(snap.inFlight)],
      ...(status.workers
        ? [
            [
              "workers",
              `${status.workers.length} HTTP worker processes (pids ${status.workers.join(", ")})`,
            ] as [string, string],
          ]
        : []),
      ["requests", `${t.requests}  (tokens: ${t.promptTokens} prompt, ${t.completionTokens} completion)`],
      [
        "revenue",
        `quoted ${fmtMoney(t.quoted)} ${t.currency}, usage-based ${fmtMoney(t.usage)} ${t.currency}${overcharge === null ? "" : ` (max-token pricing charges ${overcharge >= 0 ? "+" : ""}${overcharge.toFixed(0)}%)`}`,
      ],
    ];
    if (snap.lastError) {
      lines.push([
        "last error",
        `${snap.lastError.reason}: ${snap.lastError.message} (${snap.lastError.at})`,
      ]);
      if (snap.lastError.hint) lines.push(["fix", snap.lastError.hint]);
    }
    for (const m of status.models ?? []) lines.push([`model`, modelLine(m)]);
    for (const r of status.replicas ?? [])
      lines.push([`replica ${r.replica}`, `${status.models ? `${r.modelId}  ` : ""}${replicaLine(r)}`]);
    if (status.liveRunner) lines.push(...liveRunnerLines(status.liveRunner));
    // Several models: each model's own registration, its lines led by the model's id.
    for (const offer of status.liveRunners ?? [])
      lines.push(
        ...liveRunnerLines(offer.snapshot).map(([k, v]): [string, string] => [k, `${offer.model}: ${v}`]),
      );
    for (const [k, v] of lines) io.stdout.write(`${k.padEnd(11)} ${v}\n`);
    return EXIT.ok;
  },
};

/**
 * What the ledger holds for this run (rows since the runner started): status.json's copy is refreshed only every
 * 2 s, so right after traffic it would still say 0. Null when the ledger cannot be read (status.json's then).
 */
function ledgerTotals(path: string, startedAt: string): SessionTotals | null {
  const since = new Date(startedAt);
  if (!existsSync(path) || Number.isNaN(since.getTime())) return null;
  try {
    const ledger = SqliteLedger.openReadOnly(path);
    try {
      return ledger.totalsSince(since);
    } finally {
      ledger.close();
    }
  } catch {
    return null;
  }
}

/** The models for status --json: each one's figures, and its own Live Runner registration when it has one. */
function modelsJson(status: StatusRecord) {
  return (status.models ?? []).map((m) => {
    const offer = status.liveRunners?.find((o) => o.model === m.id);
    return offer ? { ...m, liveRunner: liveRunnerJson(offer.snapshot) } : m;
  });
}

/** The Live Runner registration for status --json (no secret is ever in it). */
function liveRunnerJson(l: LiveRunnerSnapshot) {
  return {
    orchestrator: l.orchestrator,
    registered: l.registered,
    runnerId: l.runnerId,
    mode: l.mode,
    app: l.app,
    runnerUrl: l.runnerUrl,
    problem: l.problem,
    lastResult: l.lastResult,
    lastOkAt: l.lastOkAt,
    sent: l.sent,
    intervalSeconds: l.intervalMs === null ? null : l.intervalMs / 1000,
    ttlSeconds: l.ttlMs === null ? null : l.ttlMs / 1000,
    sessions: l.sessions,
    o2r: l.o2r,
    heartbeats: l.heartbeats,
  };
}

function liveRunnerLines(l: LiveRunnerSnapshot): Array<[string, string]> {
  const head = l.registered
    ? `registered as ${l.runnerId} with ${l.orchestrator} (${l.mode}, app ${l.app})`
    : `${l.problem ?? "not registered"} (orchestrator ${l.orchestrator})`;
  const lines: Array<[string, string]> = [["live runner", head]];
  if (l.sent) {
    const price = l.sent.priceUsdPerHour === null ? "no price" : `${l.sent.priceUsdPerHour} USD/hour`;
    const state = l.sent.metadata === undefined ? "" : metadataState(l.sent.metadata);
    lines.push([
      "heartbeat",
      `status ${l.sent.status}${state}, capacity ${l.sent.capacity}, ${price}; last accepted ${l.lastOkAt ?? "never"}; ${l.sessions} session(s) reserved; o2r ${l.o2r}`,
    ]);
  }
  if (l.registered && l.problem) lines.push(["warning", l.problem]);
  return lines;
}

/** " (model asleep)": the model's state a heartbeat's metadata carried (several models), or "". */
function metadataState(metadata: string): string {
  try {
    const state = (JSON.parse(metadata) as { state?: unknown }).state;
    return typeof state === "string" ? ` (model ${state})` : "";
  } catch {
    return "";
  }
}

/** One replica for status --json: state, GPUs, engine, in flight, restarts, last error. */
/** One replica; with several models (LLM_RUNNER_MODELS_FILE) also its model and sleep state. */
function replicaJson(r: ReplicaSnapshot, models: boolean) {
  return {
    ...(models ? { model: r.modelId, sleep: r.sleep ?? null } : {}),
    replica: r.replica,
    state: r.state,
    gpus: r.gpus,
    engineId: r.engineId,
    generation: r.generation,
    inFlight: r.inFlight,
    restarts: r.restarts,
    lastError: r.lastError,
  };
}

function replicaLine(r: ReplicaSnapshot): string {
  const error = r.lastError ? `  last error ${r.lastError.reason}: ${r.lastError.message}` : "";
  return `${r.state}  GPU ${r.gpus}  in flight ${r.inFlight}  restarts ${r.restarts}${error}`;
}

/** One model of LLM_RUNNER_MODELS_FILE: its state, where it runs, its last use and its wakes. */
function modelLine(m: ModelFigures): string {
  const where = m.group === null ? "dedicated" : `group ${m.group}`;
  const used = m.lastUsed === null ? "never used" : `last used ${m.lastUsed}`;
  const wakes =
    m.group === null
      ? ""
      : `  wakes ${m.wakes}${m.lastWakeMs === null ? "" : ` (last ${(m.lastWakeMs / 1000).toFixed(2)} s)`}`;
  return `${m.id}  ${m.state}  ${where}  ${used}  in flight ${m.active}${wakes}`;
}

function fmtMoney(x: number): string {
  return x === 0 ? "0" : x.toPrecision(4);
}
