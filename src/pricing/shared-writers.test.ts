// Several HTTP workers (GATEWAY_WORKERS) write one ledger file. Each opens it with no blocking busy wait: a
// commit that meets another writer's lock must neither stall the event loop (SQLite's busy handler sleeps in
// it) nor count as a disk failure; it is retried a few ms later, and the rows are durable before their promise
// settles. Here a second connection on the same file holds the write lock (BEGIN IMMEDIATE) as another worker
// would, for longer than a commit normally takes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../log/logger.js";
import { SqliteLedger } from "./ledger.js";
import { isBusy, LedgerGuard } from "./ledger-guard.js";
import type { LedgerRow } from "./ledger-types.js";

const row = (id: string, status: LedgerRow["status"] = "ok"): LedgerRow => ({
  id,
  ts: new Date().toISOString(),
  route: "/llm",
  model: "m",
  stream: true,
  maxTokens: 16,
  promptTokens: 3,
  completionTokens: 16,
  quote: 0.1,
  usagePrice: 0.1,
  currency: "USD",
  status,
  httpStatus: status === "ok" ? 200 : 429,
  ttftMs: 1,
  durationMs: 2,
  error: null,
});

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function sharedFile() {
  const dir = mkdtempSync(join(tmpdir(), "llmr-shared-ledger-"));
  dirs.push(dir);
  const path = join(dir, "ledger.sqlite");
  SqliteLedger.open(path).close(); // the runner's process creates it before the workers open it
  const other = new Database(path);
  other.pragma("journal_mode = WAL");
  const count = () => (other.prepare("SELECT count(*) AS n FROM requests").get() as { n: number }).n;
  return { dir, path, other, count };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("one ledger, several writers", () => {
  it("a group commit that meets another writer's lock waits without blocking, then commits", async () => {
    const f = sharedFile();
    const guard = new LedgerGuard(SqliteLedger.open(f.path, { busyTimeoutMs: 0 }), {
      dir: f.dir,
      logger: silentLogger(),
      sharedWriters: true,
    });
    f.other.exec("BEGIN IMMEDIATE"); // another worker is committing
    let settled = false;
    const done = guard.recordGrouped(row("a")).then(() => {
      settled = true;
    });
    guard.record(row("refused-1", "rejected")); // a refusal's synchronous row: deferred, never thrown
    const started = Date.now();
    await sleep(60);
    // The event loop ran the timer on time (nothing slept inside SQLite), and nothing was written yet.
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(settled).toBe(false);
    expect(guard.unwritable()).toBeNull();
    const late = guard.recordGrouped(row("b")); // joins the commit that is waiting
    f.other.exec("COMMIT");
    await Promise.all([done, late]);
    expect(f.count()).toBe(3);
    expect(guard.unwritable()).toBeNull();
    await guard.check(); // the write probe against a free lock
    expect(guard.unwritable()).toBeNull();
    guard.close();
    f.other.close();
  });

  it("a lock held past the retry limit fails the rows, without calling the disk unwritable", async () => {
    const f = sharedFile();
    const store = SqliteLedger.open(f.path, { busyTimeoutMs: 0 });
    const guard = new LedgerGuard(store, { dir: f.dir, logger: silentLogger(), sharedWriters: true });
    // Reach into the retry limit through time: a lock held forever (never committed in this test).
    f.other.exec("BEGIN IMMEDIATE");
    const realNow = Date.now;
    let offset = 0;
    Date.now = () => realNow() + offset;
    try {
      const pending = guard.recordGrouped(row("x"));
      await sleep(20);
      offset = 10_000; // past LEDGER_BUSY_MAX_WAIT_MS
      await expect(pending).rejects.toSatisfy(isBusy);
      expect(guard.unwritable()).toBeNull(); // busy is not a disk problem
    } finally {
      Date.now = realNow;
      f.other.exec("ROLLBACK");
      guard.close();
      f.other.close();
    }
  });

  it("without sharedWriters a busy lock is an error at once (one writer never meets one)", () => {
    const f = sharedFile();
    const guard = new LedgerGuard(SqliteLedger.open(f.path, { busyTimeoutMs: 0 }), {
      dir: f.dir,
      logger: silentLogger(),
    });
    f.other.exec("BEGIN IMMEDIATE");
    expect(() => guard.record(row("y"))).toThrow(/locked/);
    f.other.exec("ROLLBACK");
    guard.close();
    f.other.close();
  });
});
