import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitFor } from "./cli.js";
import { type ClientResult, call, type Runner, startRunner } from "./load.js";

// Several models (LLM_RUNNER_MODELS_FILE) through the built CLI: the models file written into the runner's
// home, the runner started on the simulator with short sleep and wake times, and readers of the models'
// state as status.json has it (written on every state, sleep and wake change).

export interface ModelFile {
  groups?: Record<string, { gpus: string; awake?: number; sleep_level?: 1 | 2 }>;
  models: Array<{ id: string; group?: string; gpus?: string; env?: Record<string, string> }>;
}

export interface ModelFigures {
  id: string;
  group: string | null;
  state: string;
  lastUsed: string | null;
  wakes: number;
  sleeps: number;
  lastWakeMs: number | null;
  active: number;
}

export interface ModelReplica {
  modelId: string;
  replica: number;
  state: string;
  sleep?: string;
  engineId: string | null;
  generation: number;
  restarts: number;
  inFlight: number;
  lastError: { reason: string; message: string } | null;
}

/** Short simulator timings: a load of 0.5 s, a sleep of 0.2 s, a wake of 0.3 s. */
export const FAST_SIM = {
  SIM_LOAD_SECONDS: "0.5",
  SIM_SLEEP_SECONDS: "0.2",
  SIM_WAKE_SECONDS: "0.3",
};

export interface ModelsRunner extends Runner {
  modelsFile: string;
  /** The models as status.json has them now. */
  models(): ModelFigures[];
  /** Each model's replicas as status.json has them now. */
  replicasOf(id: string): ModelReplica[];
  /** { id: state } of every model. */
  states(): Record<string, string>;
  /** Waits until every model named in `want` is in that state (others: any). */
  waitStates(want: Record<string, string>, timeoutMs?: number): Promise<void>;
}

function statusRecord(home: string): { models?: ModelFigures[]; replicas?: ModelReplica[] } {
  return JSON.parse(readFileSync(join(home, "status.json"), "utf8"));
}

/** Starts a runner on `file` (written to a temporary folder) and waits until the models are in `boot` states. */
export async function startModelsRunner(
  file: ModelFile,
  env: Record<string, string>,
  boot: Record<string, string>,
): Promise<ModelsRunner> {
  const dir = mkdtempSync(join(tmpdir(), "llmr-models-"));
  const modelsFile = join(dir, "models.json");
  writeFileSync(modelsFile, JSON.stringify(file));
  const runner = await startRunner({ ...FAST_SIM, ...env, LLM_RUNNER_MODELS_FILE: modelsFile });
  const stop = runner.stop.bind(runner);
  runner.stop = async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return withModels(runner, modelsFile, boot);
}

async function withModels(
  runner: Runner,
  modelsFile: string,
  boot: Record<string, string>,
): Promise<ModelsRunner> {
  const models = () => statusRecord(runner.home).models ?? [];
  const states = () => Object.fromEntries(models().map((m) => [m.id, m.state]));
  const out: ModelsRunner = Object.assign(runner, {
    modelsFile,
    models,
    states,
    replicasOf: (id: string) => (statusRecord(runner.home).replicas ?? []).filter((r) => r.modelId === id),
    waitStates: async (want: Record<string, string>, timeoutMs = 20_000) => {
      await waitFor(
        () => {
          const now = states();
          return Object.entries(want).every(([id, s]) => now[id] === s) ? true : null;
        },
        timeoutMs,
        `models ${JSON.stringify(want)} (now ${JSON.stringify(states())})`,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; last seen ${JSON.stringify(states())}`);
      });
    },
  });
  await out.waitStates(boot, 30_000);
  return out;
}

/** A chat request for `model` on /v1/chat/completions (or /llm), read to its end. */
export function ask(
  url: string,
  model: string,
  options: {
    route?: "/v1/chat/completions" | "/llm";
    stream?: boolean;
    tokens?: number;
    timeoutMs?: number;
  } = {},
): Promise<ClientResult> {
  const route = options.route ?? "/v1/chat/completions";
  const tokens = options.tokens ?? 8;
  const prompt = Array.from({ length: tokens }, (_, i) => `w${i}`).join(" ");
  const body = JSON.stringify({
    model,
    messages: [{ role: "user", content: prompt }],
    max_tokens: tokens + 4,
    stream: options.stream ?? false,
  });
  return call(url, route, body, { timeoutMs: options.timeoutMs ?? 30_000 });
}

/** The text the simulator (echo mode) answered, from a non-streamed /v1 answer. */
export function answerOf(r: ClientResult): { model: string; content: string } {
  const body = JSON.parse(r.text) as { model: string; choices: Array<{ message: { content: string } }> };
  return { model: body.model, content: body.choices[0]?.message.content ?? "" };
}

/** A labelled series' value from a /metrics text, or null. */
export function labelled(text: string, name: string, labels: Record<string, string>): number | null {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.indexOf("}");
    const inner = line.slice(name.length + 1, close);
    if (Object.entries(labels).every(([k, v]) => inner.includes(`${k}="${v}"`)))
      return Number(line.slice(close + 2));
  }
  return null;
}
