// `llm-runner orchestrator`: what an operator pastes into a Livepeer orchestrator's aiModels.json to put this
// runner behind it, optionally priced from the ledger so a real output token costs a target price.
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { configFlagsHelp, splitConfigFlags } from "../../config/config-flags.js";
import { formatConfigIssues } from "../../config/config-issues.js";
import { loadConfigFrom } from "../../config/config-source.js";
import { ENV_FILE_VARIABLE } from "../../config/env-file.js";
import { readHostEnv } from "../../config/host-env.js";
import { singleModel } from "../../config/model-list.js";
import type { Config, ModelEntry } from "../../config/types.js";
import { gpuProbeFor } from "../../gpu/probe-from-env.js";
import {
  findRunningInstance,
  instancePaths,
  readJson,
  type StatusRecord,
} from "../../instance/instance-files.js";
import { type AiModelsEntry, aiModelsEntry, runnerUrl } from "../../livepeer/ai-models-entry.js";
import { runnerGpu } from "../../livepeer/live-runner/runner-gpu.js";
import { defaultLabel, modelLabels, staticRunnerEntry } from "../../livepeer/live-runner/static-entry.js";
import { type HourlyPrice, hourlyPriceForTarget, MIN_HOURLY_SAMPLE } from "../../pricing/hourly-price.js";
import { ledgerPath, SqliteLedger } from "../../pricing/ledger.js";
import { priceForTarget, type TargetPrice } from "../../pricing/target-price.js";
import { VERSION } from "../../version.js";
import { type CliCommand, type CliIO, EXIT, UsageError } from "../cli-command.js";
import { parseSince } from "./usage.js";

interface Options {
  json: boolean;
  showToken: boolean;
  liveRunner: boolean;
  url: string | null;
  label: string | null;
  target: number | null;
  since: string | null;
}

function parseArgs(rest: string[]): Options {
  const out: Options = {
    json: false,
    showToken: false,
    liveRunner: false,
    url: null,
    label: null,
    target: null,
    since: null,
  };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const [name, inline] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    if ((name === "--json" || name === "--show-token" || name === "--live-runner") && inline === undefined) {
      if (name === "--json") out.json = true;
      else if (name === "--live-runner") out.liveRunner = true;
      else out.showToken = true;
      continue;
    }
    if (name !== "--url" && name !== "--target-usd-per-mtok" && name !== "--since" && name !== "--label") {
      throw new UsageError(`unknown argument '${arg}'`);
    }
    const value = inline ?? rest[++i];
    if (value === undefined || value === "") throw new UsageError(`${name} needs a value`);
    if (name === "--label") {
      if (value !== value.trim() || value.includes("/") || /[\s]/.test(value)) {
        throw new UsageError(`--label '${value}' must be one word without "/" or spaces, e.g. gpu-node-1`);
      }
      out.label = value;
    } else if (name === "--url") {
      if (!/^https?:\/\/[^\s/]+$/.test(value.replace(/\/$/, ""))) {
        throw new UsageError(`--url '${value}' is not an http(s) address like http://10.0.0.5:8000`);
      }
      out.url = value.replace(/\/$/, "");
    } else if (name === "--since") {
      out.since = value;
    } else {
      const n = Number(value);
      if (!/^(\d+(\.\d*)?|\.\d+)$/.test(value) || !(n > 0)) {
        throw new UsageError(
          `--target-usd-per-mtok '${value}' is not a positive price in USD per 1 million output tokens, e.g. 0.08`,
        );
      }
      out.target = n;
    }
  }
  return out;
}

/** The Live Runner price per hour from the ledger's tokens per second, or why there is none. */
function hourlyPricing(config: Config, target: number, since: Date | undefined): HourlyPrice | string {
  const path = ledgerPath(config.home);
  if (!existsSync(path)) return `no ledger at ${path} yet: serve some traffic first`;
  const ledger = SqliteLedger.openReadOnly(path);
  try {
    const sample = ledger.throughput({ model: config.modelId, ...(since ? { since } : {}) });
    return (
      hourlyPriceForTarget(target, sample) ??
      `only ${sample.requests} finished request(s) for ${config.modelId} in ${path}; ${MIN_HOURLY_SAMPLE} are needed for a price per hour`
    );
  } finally {
    ledger.close();
  }
}

/** The pricing the ledger supports, or why it supports none. */
function targetPricing(config: Config, target: number, since: Date | undefined): TargetPrice | string {
  const path = ledgerPath(config.home);
  if (!existsSync(path)) return `no ledger at ${path} yet: serve some /llm traffic first`;
  const ledger = SqliteLedger.openReadOnly(path);
  try {
    const sample = ledger.outputRatio({ route: "/llm", model: config.modelId, ...(since ? { since } : {}) });
    const priced = priceForTarget(target, config.pixelsPerUnit, sample);
    return (
      priced ??
      `no finished /llm request for ${config.modelId} in ${path}${since ? ` since ${since.toISOString()}` : ""}`
    );
  } finally {
    ledger.close();
  }
}

function write(io: CliIO, text: string): void {
  io.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}

export const orchestratorCommand: CliCommand = {
  name: "orchestrator",
  summary:
    "print the aiModels.json entry (or with --live-runner the runners.json entry) for a Livepeer orchestrator",
  help: `Usage: llm-runner orchestrator [--json] [--show-token] [--url URL] [--target-usd-per-mtok X [--since SPAN]] [config flags...]
       llm-runner orchestrator --live-runner [--json] [--url URL] [--label L] [--target-usd-per-mtok X [--since SPAN]] [config flags...]

Prints the entry to paste into the orchestrator's aiModels.json (go-livepeer -aiModels) for this runner as an
external container: pipeline "llm", model_id, url, token (AUTH_TOKEN, masked unless --show-token), capacity
(the requests the engine runs at once: MAX_NUM_SEQS), price_per_unit, pixels_per_unit, currency, warm.
The orchestrator charges max_tokens x price_per_unit / pixels_per_unit per request, whatever is generated.

With --live-runner it prints the {"runners": [...]} document for the orchestrator's -liveRunnerConfig (a
static Live Runner): label, runner_url, health_url (/live-runner, 200 exactly when the runner can serve),
mode (LIVE_RUNNER_MODE), capacity, price_info (LIVE_RUNNER_PRICE_USD_PER_HOUR, USD per hour per session
slot), app (LIVE_RUNNER_APP), version and gpu. Dynamic registration (LIVE_RUNNER_ORCH_URL) needs none of this.

With several models (LLM_RUNNER_MODELS_FILE) each model is its own entry, with its own model_id (app),
capacity and price (its PRICE_PER_UNIT, its LIVE_RUNNER_PRICE_USD_PER_HOUR, its ledger rows). In aiModels.json
a swap group's model is "warm" only while it is awake in the runner running on this home; in runners.json each
entry has its own label (<label>-<model>) and health_url (/live-runner?model=<id>).

With --target-usd-per-mtok X it reads the ledger (<home>/ledger.sqlite):
  - for aiModels.json, the /llm requests that finished and their completion_tokens / max_tokens ratio R:
    price_per_unit = X x R x pixels_per_unit / 1000000, the price at which a real output token costs X USD
    per million;
  - for a Live Runner (billed per second of a session), the generated tokens per second T of a request in
    flight: X x T x 3600 / 1000000 USD per hour per session slot, at which a generated token costs X USD per
    million. Both are printed, with the sample they come from. Without a sample it says so and keeps the
    configured price.

Flags:
  --json                    print {"aiModels": [entry], "pricing", "liveRunnerPricing", "notes"} (with
                            --live-runner {"runners": [entry], "pricing", "notes"}) for scripts; several
                            models: "pricing" and "liveRunnerPricing" are keyed by model id
  --show-token              print AUTH_TOKEN itself in "token" (it is masked by default)
  --live-runner             print the runners.json document of a static Live Runner instead
  --url URL                 the address the orchestrator reaches this runner at (default: LIVE_RUNNER_URL for
                            --live-runner, else the address of the runner running on this home, else
                            http://HOST:PORT, 127.0.0.1 for 0.0.0.0)
  --label L                 the runners.json label (default: LIVE_RUNNER_LABEL, else llm-runner-<hostname>)
  --target-usd-per-mtok X   price per million generated tokens to aim for, in USD (CURRENCY must be USD)
  --since SPAN              only ledger rows from this UTC day (YYYY-MM-DD) or the last Nd / Nh
${configFlagsHelp()}

Examples:
  llm-runner orchestrator --show-token > /var/lib/livepeer/aiModels.json
  llm-runner orchestrator --url http://10.0.0.5:8000 --target-usd-per-mtok 0.08 --since 7d
  llm-runner orchestrator --live-runner --url http://10.0.0.5:8000 --label gpu-node-1 > runners.json
  llm-runner orchestrator --json | jq '.aiModels[0].price_per_unit'
`,
  async run(args, io) {
    const { overrides, rest } = splitConfigFlags(args);
    const options = parseArgs(rest);
    if (options.since !== null && options.target === null) {
      throw new UsageError("--since only applies with --target-usd-per-mtok");
    }
    if (options.label !== null && !options.liveRunner)
      throw new UsageError("--label only applies with --live-runner");
    if (options.liveRunner && options.showToken)
      throw new UsageError("--show-token does not apply with --live-runner: runners.json carries no token");
    const since = options.since === null ? undefined : parseSince(options.since, new Date());
    // As start reads it (env file, GPUs), so capacity follows the replicas start would run.
    const envFile = io.env[ENV_FILE_VARIABLE] || null;
    const result = await loadConfigFrom({ env: io.env, overrides, envFile, cwd: io.cwd });
    if (!result.ok) {
      io.stderr.write(formatConfigIssues(result.issues));
      return EXIT.usage;
    }
    const config = result.config;
    const notes: string[] = [];
    if (options.target !== null && config.currency.toUpperCase() !== "USD") {
      throw new UsageError(
        `--target-usd-per-mtok prices in USD but CURRENCY is ${config.currency}; set CURRENCY=USD or leave the flag out`,
      );
    }
    // Several models (LLM_RUNNER_MODELS_FILE): one entry per model, each with its own price from its ledger rows.
    const several = Boolean(config.modelsFile) && (config.models?.length ?? 0) > 0;
    const models: ModelEntry[] = several ? (config.models as ModelEntry[]) : singleModel(config);
    const about = (m: ModelEntry, text: string) => (several ? `${m.id}: ${text}` : text);
    const priced: Priced[] = models.map((m) => {
      const out: Priced = { model: m, pricing: null, hourly: null, pricingOut: null, hourlyOut: null };
      if (options.target === null) return out;
      const found = options.liveRunner ? null : targetPricing(m.config, options.target, since);
      if (typeof found === "string") notes.push(about(m, `${found}; price_per_unit stays PRICE_PER_UNIT.`));
      else out.pricing = found;
      const perHour = hourlyPricing(m.config, options.target, since);
      if (typeof perHour === "string")
        notes.push(about(m, `${perHour}; the Live Runner price stays LIVE_RUNNER_PRICE_USD_PER_HOUR.`));
      else out.hourly = perHour;
      out.hourlyOut = out.hourly && {
        targetUsdPerMillion: options.target,
        usdPerHour: out.hourly.usdPerHour,
        tokensPerSecond: Number(out.hourly.tokensPerSecond.toPrecision(6)),
        requests: out.hourly.sample.requests,
        completionTokens: out.hourly.sample.completionTokens,
        seconds: Number(out.hourly.sample.seconds.toFixed(3)),
        since: since?.toISOString() ?? null,
      };
      out.pricingOut = out.pricing && {
        targetUsdPerMillion: options.target,
        ratio: Number(out.pricing.ratio.toPrecision(6)),
        requests: out.pricing.sample.requests,
        maxTokens: out.pricing.sample.maxTokens,
        completionTokens: out.pricing.sample.completionTokens,
        since: since?.toISOString() ?? null,
      };
      return out;
    });
    // One model: its figures as they always were; several: keyed by model id.
    const perModel = (pick: (p: Priced) => unknown) =>
      several ? Object.fromEntries(priced.map((p) => [p.model.id, pick(p)])) : pick(priced[0] as Priced);
    if (options.liveRunner) return printRunners(config, priced, several, options, io, notes, perModel);

    const token = config.authToken === null ? undefined : options.showToken ? config.authToken : "***";
    if (config.authToken === null) {
      notes.push(
        "AUTH_TOKEN is not set: the entry has no token, and anyone who can reach the runner can use it.",
      );
    } else if (!options.showToken) {
      notes.push('"token" is masked: run with --show-token to print AUTH_TOKEN in it.');
    }
    // Without --url: the address of the runner running on this home (it may have been started with other flags).
    const running = options.url === null || several ? findRunningInstance(config.home) : null;
    const url = options.url ?? running?.url ?? null;
    const awake = several ? awakeNow(config.home, running !== null) : null;
    const entries = priced.map(({ model: m, pricing }) => {
      // A swap group's model is warm only while it is awake in the running runner; a dedicated one always is.
      const warm = m.placement.kind !== "swap" || (awake?.has(m.id) ?? false);
      if (!warm)
        notes.push(
          `${m.id} is in swap group ${m.placement.kind === "swap" ? m.placement.group : ""} and ${running ? "asleep now" : "the runner is not running"}: "warm" is false (the orchestrator reads it once, at its start; a request wakes the model).`,
        );
      return aiModelsEntry(m.config, {
        ...(url === null ? {} : { url }),
        ...(token === undefined ? {} : { token }),
        ...(pricing ? { pricePerUnit: pricing.pricePerUnit } : {}),
        warm,
      });
    });
    const first = entries[0] as AiModelsEntry;
    if (options.url === null) {
      const from = running ? `the runner running on ${config.home}` : "HOST and PORT";
      notes.push(
        `url is ${first.url} (from ${from}): pass --url when the orchestrator reaches this runner at another address.`,
      );
    }
    if (options.json) {
      write(
        io,
        JSON.stringify(
          {
            aiModels: entries,
            pricing: perModel((p) => p.pricingOut),
            liveRunnerPricing: perModel((p) => p.hourlyOut),
            notes,
          },
          null,
          2,
        ),
      );
      return EXIT.ok;
    }
    // stdout is the JSON list alone, so `> aiModels.json` gives a file the orchestrator reads; words go to stderr.
    write(io, JSON.stringify(entries, null, 2));
    io.stderr.write(
      several
        ? `The aiModels.json entries for the orchestrator (-aiModels), one per model; add them next to any other entries.\n`
        : "The aiModels.json entry for the orchestrator (-aiModels); add it next to any other entries.\n",
    );
    for (const [k, { model: m, pricing, hourly }] of priced.entries()) {
      const entry = entries[k] as AiModelsEntry;
      if (pricing) {
        const pct = (pricing.ratio * 100).toFixed(1);
        io.stderr.write(
          about(
            m,
            `price_per_unit ${entry.price_per_unit} ${entry.currency} per ${entry.pixels_per_unit} max_tokens: ` +
              `${pricing.sample.requests} finished /llm requests generated ${pricing.sample.completionTokens} of ` +
              `${pricing.sample.maxTokens} max_tokens (${pct}%), so a real output token costs ` +
              `${options.target} USD per million.\n`,
          ),
        );
      }
      if (hourly) io.stderr.write(about(m, hourlyLine(hourly, options.target as number)));
    }
    for (const note of notes) io.stderr.write(`note: ${note}\n`);
    return EXIT.ok;
  },
};

/** One model's entry and what the ledger says about its price. */
interface Priced {
  model: ModelEntry;
  pricing: TargetPrice | null;
  hourly: HourlyPrice | null;
  pricingOut: Record<string, unknown> | null;
  hourlyOut: Record<string, unknown> | null;
}

/** The models awake now in the runner running on this home (its status.json); empty when none runs. */
function awakeNow(home: string, running: boolean): Set<string> {
  if (!running) return new Set();
  const status = readJson<StatusRecord>(instancePaths(home).status);
  return new Set((status?.models ?? []).filter((m) => m.state === "awake").map((m) => m.id));
}

function hourlyLine(hourly: HourlyPrice, target: number): string {
  return (
    `Live Runner: ${hourly.usdPerHour} USD per hour per session slot: ${hourly.sample.requests} finished requests ` +
    `generated ${hourly.sample.completionTokens} tokens in ${hourly.sample.seconds.toFixed(1)} s in flight ` +
    `(${hourly.tokensPerSecond.toFixed(1)} tokens/s each), so a generated token costs ${target} USD per million.\n`
  );
}

/** --live-runner: the runners.json document for -liveRunnerConfig (several models: one entry per model). */
async function printRunners(
  config: Config,
  priced: Priced[],
  several: boolean,
  options: Options,
  io: CliIO,
  notes: string[],
  perModel: (pick: (p: Priced) => unknown) => unknown,
): Promise<number> {
  const running =
    options.url === null && config.liveRunner.url === null ? findRunningInstance(config.home) : null;
  const url = options.url ?? config.liveRunner.url ?? running?.url ?? runnerUrl(config);
  const label = options.label ?? config.liveRunner.label ?? defaultLabel(hostname());
  const labels = several
    ? modelLabels(
        label,
        priced.map((p) => p.model.id),
      )
    : [label];
  const probe = gpuProbeFor(readHostEnv(io.env).fakeGpusFile ?? undefined);
  const about = (m: ModelEntry, text: string) => (several ? `${m.id}: ${text}` : text);
  const entries = [];
  const unpriced: string[] = [];
  for (const [k, { model: m, hourly }] of priced.entries()) {
    const live = m.config.liveRunner;
    const configured = typeof live.priceUsdPerHour === "number" ? live.priceUsdPerHour : null;
    const price = hourly?.usdPerHour ?? configured;
    if (price === null) unpriced.push(m.id);
    entries.push(
      staticRunnerEntry(m.config, {
        label: labels[k] as string,
        runnerUrl: url,
        version: VERSION,
        priceUsdPerHour: price,
        gpu: await runnerGpu(probe, m.config),
        ...(several ? { model: m.id } : {}),
      }),
    );
  }
  if (options.url === null && config.liveRunner.url === null) {
    notes.push(
      `runner_url is ${url} (from ${running ? `the runner running on ${config.home}` : "HOST and PORT"}): pass --url (or set LIVE_RUNNER_URL) when the orchestrator reaches this runner at another address.`,
    );
  }
  if (unpriced.length > 0) {
    notes.push(
      `${several ? `${unpriced.join(", ")}: ` : ""}price_info has no price: an off-chain orchestrator ignores it, an on-chain one refuses the entry. Set LIVE_RUNNER_PRICE_USD_PER_HOUR${several ? ' (in each model\'s "env")' : ""}, or pass --target-usd-per-mtok once the ledger has traffic.`,
    );
  }
  if (config.authToken !== null) {
    notes.push(
      "AUTH_TOKEN is set, but the orchestrator's proxy does not send it: proxied requests would get 401. A static runner runs without AUTH_TOKEN on an address only the orchestrator can reach; dynamic registration (LIVE_RUNNER_ORCH_URL) verifies each proxied session instead.",
    );
  }
  const doc = { runners: entries };
  if (options.json) {
    write(io, JSON.stringify({ ...doc, pricing: perModel((p) => p.hourlyOut), notes }, null, 2));
    return EXIT.ok;
  }
  write(io, JSON.stringify(doc, null, 2));
  io.stderr.write(
    "The runners.json document for the orchestrator's -liveRunnerConfig (or POST it to its CLI port's /registerLiveRunners); merge the entry into an existing file's list.\n",
  );
  for (const { model: m, hourly } of priced)
    if (hourly) io.stderr.write(about(m, hourlyLine(hourly, options.target as number)));
  for (const note of notes) io.stderr.write(`note: ${note}\n`);
  return EXIT.ok;
}
