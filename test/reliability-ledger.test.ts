import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitForExit } from "../src/engine/process-group.js";
import { assertBuilt } from "./helpers/cli.js";
import {
  type ClientResult,
  call,
  chatBody,
  type Route,
  startRunner,
  stopAllRunners,
  words,
} from "./helpers/load.js";

// kill -9 of the runner under load: every request whose client got its final byte has exactly one ledger row,
// no row is torn, and the engine stops itself once its runner is gone.

const ROUTES: Route[] = ["/llm", "/v1/chat/completions"];
const STATUSES = new Set(["ok", "client_abort", "engine_error", "rejected"]);

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllRunners();
});

/** The client saw the response's last byte: [DONE] for a stream, a complete JSON body otherwise. */
function gotFinalByte(stream: boolean, r: ClientResult): boolean {
  if (r.status !== 200 || !r.complete || r.requestId === null) return false;
  if (stream) return r.text.endsWith("data: [DONE]\n\n");
  try {
    JSON.parse(r.text);
    return true;
  } catch {
    return false;
  }
}

interface Row {
  id: string;
  ts: string;
  route: string;
  model: string;
  stream: number;
  max_tokens: number;
  prompt_tokens: number;
  completion_tokens: number;
  quote: number;
  usage_price: number;
  currency: string;
  status: string;
  http_status: number;
  ttft_ms: number | null;
  duration_ms: number;
  error: string | null;
}

/** What is wrong with a row, or null: every column present, typed and in range. */
function tornColumns(r: Row): string[] {
  const bad: string[] = [];
  const int = (v: unknown, min = 0) => typeof v === "number" && Number.isInteger(v) && v >= min;
  const num = (v: unknown) => typeof v === "number" && Number.isFinite(v) && v >= 0;
  if (!/^[0-9a-f]{32}$/.test(r.id)) bad.push("id");
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(r.ts) || Number.isNaN(Date.parse(r.ts)))
    bad.push("ts");
  if (!ROUTES.includes(r.route as Route)) bad.push("route");
  if (typeof r.model !== "string" || r.model === "") bad.push("model");
  if (r.stream !== 0 && r.stream !== 1) bad.push("stream");
  if (!int(r.max_tokens, 1)) bad.push("max_tokens");
  if (!int(r.prompt_tokens)) bad.push("prompt_tokens");
  if (!int(r.completion_tokens) || r.completion_tokens > r.max_tokens) bad.push("completion_tokens");
  if (!num(r.quote) || !num(r.usage_price)) bad.push("price");
  if (r.currency !== "USD") bad.push("currency");
  if (!STATUSES.has(r.status)) bad.push("status");
  if (!int(r.http_status, 200) || r.http_status > 599) bad.push("http_status");
  if (r.ttft_ms !== null && !num(r.ttft_ms)) bad.push("ttft_ms");
  if (!num(r.duration_ms)) bad.push("duration_ms");
  if (r.status === "ok" && (r.http_status !== 200 || r.error !== null)) bad.push("ok row with an error");
  return bad;
}

describe("the ledger survives kill -9 of the runner", () => {
  it("every request that got its final byte has exactly one valid row; the engine stops itself, and a restart reads the ledger", {
    timeout: 90_000,
  }, async () => {
    const runner = await startRunner({
      SIM_ITL_MS: "10",
      MAX_NUM_SEQS: "128",
      QUEUE_SIZE: "128",
      LOG_LEVEL: "warn",
    });
    const enginePid = await runner.enginePid();
    const runnerPid = runner.pid;
    expect(enginePid).not.toBeNull();

    // 64 clients in a loop, each request a random mix of route and streaming, until the runner dies.
    const finished: Array<{ stream: boolean; route: Route; result: ClientResult }> = [];
    let dead = false;
    const client = async (c: number) => {
      for (let i = 0; !dead; i++) {
        const route = ROUTES[(c + i) % 2] as Route;
        const stream = (c + i) % 3 !== 0;
        const tokens = 3 + ((c * 7 + i) % 20);
        const result = await call(
          runner.url,
          route,
          chatBody(route, words(tokens, c + i), tokens + 2, stream),
          {
            timeoutMs: 15_000,
          },
        );
        finished.push({ stream, route, result });
      }
    };
    const clients = Promise.all(Array.from({ length: 64 }, (_, c) => client(c)));
    await new Promise((r) => setTimeout(r, 2_500));
    process.kill(runnerPid, "SIGKILL");
    dead = true;
    await clients;
    expect(await waitForExit(runnerPid, 5_000)).toBe(true);
    expect(
      enginePid !== null && (await waitForExit(enginePid, 5_000)),
      "the engine stops itself once its runner is gone",
    ).toBe(true);

    // Restart in the same home, and the ledger is read back.
    const again = await startRunner({ LOG_LEVEL: "warn" }, { home: runner.home, port: runner.port });
    expect(await again.enginePid()).not.toBe(enginePid);

    const delivered = finished.filter((f) => gotFinalByte(f.stream, f.result));
    const db = new Database(join(runner.home, "ledger.sqlite"), { readonly: true, fileMustExist: true });
    try {
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      const rows = db.prepare("SELECT * FROM requests").all() as Row[];
      const byId = new Map<string, number>();
      for (const r of rows) byId.set(r.id, (byId.get(r.id) ?? 0) + 1);
      const missing = delivered.filter((d) => byId.get(d.result.requestId as string) !== 1);
      const torn = rows.map((r) => ({ id: r.id, bad: tornColumns(r) })).filter((t) => t.bad.length > 0);
      const wrongStatus = delivered.filter((d) => {
        const row = rows.find((r) => r.id === d.result.requestId);
        return row !== undefined && row.status !== "ok";
      });
      console.log(
        `ledger: ${finished.length} requests answered before the kill, ${delivered.length} delivered in full, ${rows.length} rows; missing ${missing.length}, torn ${torn.length}`,
      );
      expect(delivered.length).toBeGreaterThan(100);
      expect(
        missing.map((m) => m.result.requestId),
        "delivered requests without exactly one row",
      ).toEqual([]);
      expect(torn, "rows with invalid columns").toEqual([]);
      expect(
        wrongStatus.map((w) => w.result.requestId),
        "delivered requests whose row is not 'ok'",
      ).toEqual([]);
    } finally {
      db.close();
    }
  });
});
