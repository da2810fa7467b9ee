import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { captureIO } from "../../../test/helpers/capture-io.js";
import { instancePaths, writeInstance, writeJsonAtomic } from "../../instance/instance-files.js";
import { ledgerPath, SqliteLedger } from "../../pricing/ledger.js";
import type { LedgerRow } from "../../pricing/ledger-types.js";
import { main } from "../main.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function home(): string {
  const dir = mkdtempSync(join(tmpdir(), "orchestrator-"));
  dirs.push(dir);
  return dir;
}

// ENGINE=sim: the simulator needs no model files, so the config loads on any machine.
async function cli(args: string[], env: Record<string, string>) {
  const c = captureIO({ ENGINE: "sim", DRIVER: "process", HOME: "/tmp", ...env }, "/");
  const code = await main(["orchestrator", ...args], c.io);
  return { code, out: c.out(), err: c.err() };
}

const MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct";

function seed(dir: string, rows: Array<[number, number]>): void {
  const ledger = SqliteLedger.open(ledgerPath(dir));
  rows.forEach(([maxTokens, completionTokens], i) => {
    const row: LedgerRow = {
      id: `r${i}`,
      ts: new Date().toISOString(),
      route: "/llm",
      model: MODEL,
      stream: false,
      maxTokens,
      promptTokens: 10,
      completionTokens,
      quote: 0,
      usagePrice: 0,
      currency: "USD",
      status: "ok",
      httpStatus: 200,
      ttftMs: 1,
      durationMs: 2,
      error: null,
    };
    ledger.record(row);
  });
  ledger.close();
}

describe("llm-runner orchestrator", () => {
  it("uses the address of the runner running on this home when no --url is given", async () => {
    const dir = home();
    // A live pid (this test's) stands for the running runner, started on another port than the env says.
    writeInstance(dir, {
      pid: process.pid,
      url: "http://127.0.0.1:8931",
      host: "127.0.0.1",
      port: 8931,
      engine: "sim",
      driver: "process",
      modelId: MODEL,
      instanceId: "i",
      startedAt: new Date().toISOString(),
      logFile: null,
      engineLogFile: join(dir, "engine.log"),
      version: "0.1.0",
    });
    const { code, out, err } = await cli([], { LLM_RUNNER_HOME: dir, PORT: "8000" });
    expect(code).toBe(0);
    expect(JSON.parse(out)[0].url).toBe("http://127.0.0.1:8931");
    expect(err).toContain(`from the runner running on ${dir}`);
    const given = await cli(["--url", "http://10.0.0.5:8000"], { LLM_RUNNER_HOME: dir });
    expect(JSON.parse(given.out)[0].url).toBe("http://10.0.0.5:8000");
  });

  it("prints a pasteable aiModels.json list with the token masked, and says how to show it", async () => {
    const dir = home();
    const { code, out, err } = await cli([], {
      LLM_RUNNER_HOME: dir,
      AUTH_TOKEN: "s3cret",
      MAX_NUM_SEQS: "64",
    });
    expect(code).toBe(0);
    // stdout is the JSON list alone: `llm-runner orchestrator > aiModels.json` is a file the orchestrator reads.
    expect(JSON.parse(out)).toEqual([
      {
        pipeline: "llm",
        model_id: MODEL,
        url: "http://127.0.0.1:8000",
        token: "***",
        capacity: 64,
        price_per_unit: 0.08,
        pixels_per_unit: 1000000,
        currency: "USD",
        warm: true,
      },
    ]);
    expect(out + err).not.toContain("s3cret");
    expect(err).toContain("run with --show-token");
  });

  it("--show-token --url --json gives the real token and the given address", async () => {
    const { code, out } = await cli(
      ["--show-token", "--json", "--url", "http://10.0.0.5:8000/", "--port", "9000"],
      {
        LLM_RUNNER_HOME: home(),
        AUTH_TOKEN: "s3cret",
      },
    );
    expect(code).toBe(0);
    const body = JSON.parse(out);
    expect(body.aiModels[0]).toMatchObject({ token: "s3cret", url: "http://10.0.0.5:8000" });
    expect(body.pricing).toBeNull();
  });

  it("--target-usd-per-mtok prices real output tokens from the ledger's completion ÷ max_tokens ratio", async () => {
    const dir = home();
    seed(dir, [
      [256, 64],
      [256, 64],
      [512, 128],
    ]);
    const { code, out } = await cli(["--target-usd-per-mtok", "0.08", "--json"], { LLM_RUNNER_HOME: dir });
    expect(code).toBe(0);
    const body = JSON.parse(out);
    expect(body.aiModels[0].price_per_unit).toBe(0.02);
    expect(body.pricing).toMatchObject({ ratio: 0.25, requests: 3, maxTokens: 1024, completionTokens: 256 });
    const human = await cli(["--target-usd-per-mtok=0.08"], { LLM_RUNNER_HOME: dir });
    expect(JSON.parse(human.out)[0].price_per_unit).toBe(0.02);
    expect(human.err).toContain("3 finished /llm requests generated 256 of 1024 max_tokens (25.0%)");
  });

  it("without a ledger it says so and keeps PRICE_PER_UNIT", async () => {
    const dir = home();
    const { code, out, err } = await cli(["--target-usd-per-mtok", "0.08", "--json"], {
      LLM_RUNNER_HOME: dir,
      PRICE_PER_UNIT: "0.1",
    });
    expect(code).toBe(0);
    expect(JSON.parse(out).aiModels[0].price_per_unit).toBe(0.1);
    expect(JSON.parse(out).notes[0]).toBe(
      `no ledger at ${join(dir, "ledger.sqlite")} yet: serve some /llm traffic first; price_per_unit stays PRICE_PER_UNIT.`,
    );
    expect(err).toBe("");
  });

  it("refuses bad flags with a usage error (exit 2)", async () => {
    const dir = home();
    for (const args of [
      ["--target-usd-per-mtok", "cheap"],
      ["--url", "10.0.0.5"],
      ["--since", "7d"],
      ["--bogus"],
    ]) {
      const { code, err } = await cli(args, { LLM_RUNNER_HOME: dir });
      expect(code, args.join(" ")).toBe(2);
      expect(err).toMatch(/^llm-runner orchestrator: /);
    }
    const euro = await cli(["--target-usd-per-mtok", "0.08"], { LLM_RUNNER_HOME: dir, CURRENCY: "EUR" });
    expect(euro.err).toContain("CURRENCY is EUR");
  });

  it("capacity follows the replicas: MAX_NUM_SEQS × REPLICAS", async () => {
    const dir = home();
    const { code, out } = await cli(["--json"], { LLM_RUNNER_HOME: dir, MAX_NUM_SEQS: "64", REPLICAS: "3" });
    expect(code).toBe(0);
    expect((JSON.parse(out) as { aiModels: Array<{ capacity: number }> }).aiModels[0]?.capacity).toBe(192);
  });

  it("several models: one entry per model, its own price and capacity, warm only while awake", async () => {
    const dir = home();
    const file = join(dir, "models.json");
    const QWEN = "Qwen/Qwen2.5-7B-Instruct";
    const MISTRAL = "mistralai/Mistral-7B-Instruct-v0.3";
    writeFileSync(
      file,
      JSON.stringify({
        groups: { small: { gpus: "1", awake: 1 } },
        models: [
          { id: MODEL, gpus: "0", env: { PRICE_PER_UNIT: "3", MAX_NUM_SEQS: "32" } },
          { id: QWEN, group: "small", env: { GPU_MEMORY_UTILIZATION: "0.45", PRICE_PER_UNIT: "7" } },
          { id: MISTRAL, group: "small", env: { GPU_MEMORY_UTILIZATION: "0.45", MAX_NUM_SEQS: "8" } },
        ],
      }),
    );
    const env = { LLM_RUNNER_HOME: dir, LLM_RUNNER_MODELS_FILE: file, PRICE_PER_UNIT: "5" };
    // No runner running: the swap group's models can't be known awake.
    const cold = await cli(["--json"], env);
    expect(cold.code, cold.err).toBe(0);
    const doc = JSON.parse(cold.out);
    const rows = (d: { aiModels: Array<Record<string, unknown>> }) =>
      d.aiModels.map((e) => [e.model_id, e.capacity, e.price_per_unit, e.warm]);
    expect(rows(doc)).toEqual([
      [MODEL, 32, 3, true],
      [QWEN, 128, 7, false],
      [MISTRAL, 8, 5, false],
    ]);
    expect(Object.keys(doc.pricing)).toEqual([MODEL, QWEN, MISTRAL]);
    expect(doc.notes.join("\n")).toContain(`${QWEN} is in swap group small and the runner is not running`);
    // The runner on this home has Mistral awake and Qwen asleep.
    writeInstance(dir, {
      pid: process.pid,
      url: "http://127.0.0.1:8931",
      host: "127.0.0.1",
      port: 8931,
      engine: "sim",
      driver: "process",
      modelId: MODEL,
      instanceId: "i",
      startedAt: new Date().toISOString(),
      logFile: null,
      engineLogFile: join(dir, "engine.log"),
      version: "0.1.0",
    });
    const figures = (id: string, state: string) => ({
      id,
      group: id === MODEL ? null : "small",
      state,
      lastUsed: null,
      wakes: 0,
      sleeps: 0,
      lastWakeMs: null,
      wakeSecondsTotal: 0,
      active: 0,
    });
    writeJsonAtomic(instancePaths(dir).status, {
      updatedAt: new Date().toISOString(),
      models: [figures(MODEL, "awake"), figures(QWEN, "asleep"), figures(MISTRAL, "awake")],
      totals: {},
    });
    const warm = await cli([], env);
    expect(warm.code, warm.err).toBe(0);
    expect(rows({ aiModels: JSON.parse(warm.out) })).toEqual([
      [MODEL, 32, 3, true],
      [QWEN, 128, 7, false],
      [MISTRAL, 8, 5, true],
    ]);
    expect(JSON.parse(warm.out)[1].url).toBe("http://127.0.0.1:8931");
    expect(warm.err).toContain("one per model");
    expect(warm.err).toContain(`${QWEN} is in swap group small and asleep now`);
  });
});
