import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { captureIO } from "../../../test/helpers/capture-io.js";
import {
  instancePaths,
  type StatusRecord,
  writeInstance,
  writeJsonAtomic,
} from "../../instance/instance-files.js";
import type { LiveRunnerSnapshot } from "../../livepeer/live-runner/live-runner-agent.js";
import { SqliteLedger } from "../../pricing/ledger.js";
import type { LedgerRow } from "../../pricing/ledger-types.js";
import { main } from "../main.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const STARTED = "2025-03-01T10:00:00.000Z";

/** A home whose runner (this process) started at STARTED, with status.json as last written: totals still 0. */
function runningHome(): string {
  const home = mkdtempSync(join(tmpdir(), "status-"));
  dirs.push(home);
  writeInstance(home, {
    pid: process.pid,
    url: "http://127.0.0.1:8000",
    host: "127.0.0.1",
    port: 8000,
    engine: "sim",
    driver: "process",
    modelId: "m",
    instanceId: "i",
    startedAt: STARTED,
    logFile: null,
    engineLogFile: join(home, "engine.log"),
    version: "0.1.0",
  });
  const status: StatusRecord = {
    updatedAt: STARTED,
    gpus: "all",
    snapshot: {
      ...{
        state: "ready",
        progress: 1,
        progressDetail: null,
        engine: "sim",
        driver: "process",
        modelId: "m",
      },
      ...{ engineId: "1", generation: 1, restarts: 0, inFlight: 0, startedAt: STARTED, readySince: STARTED },
      lastError: null,
    },
    totals: { requests: 0, promptTokens: 0, completionTokens: 0, quoted: 0, usage: 0, currency: "USD" },
  };
  writeJsonAtomic(instancePaths(home).status, status);
  return home;
}

function row(ts: string, overrides: Partial<LedgerRow> = {}): LedgerRow {
  return {
    ...{
      id: Math.random().toString(16).slice(2),
      ts,
      route: "/llm",
      model: "m",
      stream: true,
      maxTokens: 64,
    },
    ...{ promptTokens: 10, completionTokens: 20, quote: 0.001, usagePrice: 0.0005, currency: "USD" },
    ...{ status: "ok", httpStatus: 200, ttftMs: 5, durationMs: 50, error: null },
    ...overrides,
  } as LedgerRow;
}

async function status(home: string, args: string[] = []) {
  const c = captureIO({ LLM_RUNNER_HOME: home }, "/");
  const code = await main(["status", ...args], c.io);
  return { code, out: c.out() };
}

describe("llm-runner status", () => {
  it("shows the requests the ledger holds for this run, before status.json's next refresh", async () => {
    const home = runningHome();
    const ledger = SqliteLedger.open(instancePaths(home).ledger);
    ledger.recordMany([
      row("2025-03-01T09:59:59.000Z"), // an earlier run's
      row("2025-03-01T10:00:01.000Z"),
      row("2025-03-01T10:00:02.000Z"),
      row("2025-03-01T10:00:03.000Z", { status: "rejected", httpStatus: 503, completionTokens: 0, quote: 0 }),
    ]);
    ledger.close();
    const human = await status(home);
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/^requests {4}2 {2}\(tokens: 20 prompt, 40 completion\)$/m);
    const json = JSON.parse((await status(home, ["--json"])).out) as { totals: Record<string, unknown> };
    expect(json.totals).toEqual({
      requests: 2,
      promptTokens: 20,
      completionTokens: 40,
      quoted: 0.002,
      usage: 0.001,
      currency: "USD",
    });
  });

  it("falls back to status.json's totals when there is no ledger yet", async () => {
    const home = runningHome();
    expect((await status(home)).out).toMatch(/^requests {4}0 {2}/m);
  });

  it("several models: each model's own Live Runner registration, led by its id", async () => {
    const home = runningHome();
    const base = JSON.parse(readFileSync(instancePaths(home).status, "utf8")) as StatusRecord;
    const offer = (id: string, state: string, sessions: number): LiveRunnerSnapshot => ({
      orchestrator: "http://orch:8935",
      mode: "single-shot",
      app: id,
      runnerUrl: "http://127.0.0.1:8000",
      registered: true,
      runnerId: `runner_${id}`,
      problem: null,
      lastResult: "ok",
      lastOkAt: STARTED,
      sent: {
        status: "ready",
        capacity: 4,
        priceUsdPerHour: 1.25,
        metadata: JSON.stringify({ model: id, state }),
      },
      intervalMs: 5_000,
      ttlMs: 20_000,
      sessions,
      o2r: "connected",
      heartbeats: {
        registered: 1,
        ok: 2,
        auth_refused: 0,
        not_found: 0,
        bad_request: 0,
        server_error: 0,
        unreachable: 0,
        bad_reply: 0,
      },
    });
    const figures = (id: string, state: string) => ({
      id,
      group: "g",
      state,
      lastUsed: null,
      wakes: 0,
      sleeps: 0,
      lastWakeMs: null,
      wakeSecondsTotal: 0,
      active: 0,
    });
    writeJsonAtomic(instancePaths(home).status, {
      ...base,
      models: [figures("a", "awake"), figures("b", "asleep")],
      liveRunners: [
        { model: "a", snapshot: offer("a", "awake", 1) },
        { model: "b", snapshot: offer("b", "asleep", 0) },
      ],
    } as StatusRecord);
    const text = await status(home);
    expect(text.code).toBe(0);
    expect(text.out).toContain("a: registered as runner_a");
    expect(text.out).toContain("b: status ready (model asleep), capacity 4, 1.25 USD/hour");
    const json = JSON.parse((await status(home, ["--json"])).out);
    expect(json.liveRunner).toBeUndefined();
    expect(
      json.models.map((m: { id: string; liveRunner: { runnerId: string; sessions: number } }) => [
        m.id,
        m.liveRunner.runnerId,
        m.liveRunner.sessions,
      ]),
    ).toEqual([
      ["a", "runner_a", 1],
      ["b", "runner_b", 0],
    ]);
  });

  it("with several models, --json names each replica's model and sleep state", async () => {
    const home = runningHome();
    const record = JSON.parse(readFileSync(instancePaths(home).status, "utf8")) as StatusRecord;
    const replica = (modelId: string, sleep: string, engineId: string) => ({
      ...record.snapshot,
      modelId,
      engineId,
      sleep,
      replica: 0,
      gpus: "0",
    });
    writeJsonAtomic(instancePaths(home).status, {
      ...record,
      replicas: [replica("a", "awake", "11"), replica("b", "asleep", "12")],
      models: [
        {
          id: "a",
          group: "g",
          state: "awake",
          lastUsed: null,
          wakes: 1,
          sleeps: 0,
          lastWakeMs: 300,
          wakeSecondsTotal: 0.3,
          active: 0,
        },
        {
          id: "b",
          group: "g",
          state: "asleep",
          lastUsed: null,
          wakes: 0,
          sleeps: 1,
          lastWakeMs: null,
          wakeSecondsTotal: 0,
          active: 0,
        },
      ],
    } as StatusRecord);
    const json = JSON.parse((await status(home, ["--json"])).out) as {
      replicas: Array<Record<string, unknown>>;
    };
    expect(json.replicas.map((r) => [r.model, r.sleep, r.engineId])).toEqual([
      ["a", "awake", "11"],
      ["b", "asleep", "12"],
    ]);
  });
});
