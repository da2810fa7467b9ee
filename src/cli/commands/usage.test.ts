import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { captureIO } from "../../../test/helpers/capture-io.js";
import { ledgerPath, SqliteLedger } from "../../pricing/ledger.js";
import { main } from "../main.js";
import { parseSince } from "./usage.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function cli(args: string[], env: Record<string, string> = {}) {
  const c = captureIO(env, "/");
  const code = await main(["usage", ...args], c.io);
  return { code, out: c.out(), err: c.err() };
}

function home(): string {
  const dir = mkdtempSync(join(tmpdir(), "usage-"));
  dirs.push(dir);
  return dir;
}

describe("llm-runner usage", () => {
  it("says where it looked when nothing was recorded yet, and exits 0", async () => {
    const dir = home();
    const { code, out } = await cli(["--home", dir]);
    expect(code).toBe(0);
    expect(out).toBe(`no usage recorded yet at ${join(dir, "ledger.sqlite")}\n`);
  });

  it("prints a table by model and day with the over-charge, or JSON; home from LLM_RUNNER_HOME", async () => {
    const dir = home();
    const ledger = SqliteLedger.open(ledgerPath(dir));
    const base = {
      route: "/llm",
      model: "meta-llama/Meta-Llama-3.1-8B-Instruct",
      stream: true,
      maxTokens: 256,
      promptTokens: 12,
      completionTokens: 64,
      quote: 0.00002048,
      usagePrice: 0.00000512,
      currency: "USD",
      status: "ok" as const,
      httpStatus: 200,
      ttftMs: 20,
      durationMs: 700,
      error: null,
    };
    ledger.record({ ...base, id: "a", ts: new Date().toISOString() });
    ledger.record({ ...base, id: "b", ts: new Date().toISOString() });
    ledger.close();
    const table = await cli([], { LLM_RUNNER_HOME: dir });
    expect(table.code).toBe(0);
    const lines = table.out.trimEnd().split("\n");
    expect(lines[0]).toMatch(
      /^MODEL\s+DAY \(UTC\)\s+REQUESTS\s+REJECTED\s+PROMPT TOK\s+COMPL TOK\s+QUOTED\s+USAGE\s+OVER-CHARGE$/,
    );
    expect(lines[1]).toContain("meta-llama/Meta-Llama-3.1-8B-Instruct");
    expect(lines[1]).toMatch(/\s2\s+0\s+24\s+128\s+0\.00004096 USD\s+0\.00001024 USD\s+300\.0%$/);
    const json = await cli(["--json", "--since", "24h", "--home", dir]);
    const [summary] = JSON.parse(json.out);
    expect(summary).toMatchObject({ requests: 2, rejected: 0, completionTokens: 128, currency: "USD" });
    expect(summary.overChargePercent).toBeCloseTo(300, 9);
  });

  it("rejects a bad --since with the accepted forms, exit 2", async () => {
    const { code, err } = await cli(["--since", "last week"]);
    expect(code).toBe(2);
    expect(err).toContain("use YYYY-MM-DD (UTC), Nd or Nh");
  });
});

describe("parseSince", () => {
  const now = new Date("2025-03-10T12:00:00Z");
  it("reads days and spans", () => {
    expect(parseSince("2025-03-01", now).toISOString()).toBe("2025-03-01T00:00:00.000Z");
    expect(parseSince("7d", now).toISOString()).toBe("2025-03-03T12:00:00.000Z");
    expect(parseSince("24h", now).toISOString()).toBe("2025-03-09T12:00:00.000Z");
  });
  it("rejects impossible dates", () => {
    expect(() => parseSince("2025-02-30", now)).toThrow(/--since '2025-02-30'/);
  });
});
