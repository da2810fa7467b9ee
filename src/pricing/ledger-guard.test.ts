import { describe, expect, it } from "vitest";
import { type GuardedStore, LedgerGuard } from "./ledger-guard.js";
import type { LedgerRow } from "./ledger-types.js";

function fakeStore() {
  const store = {
    failing: null as string | null,
    rows: [] as LedgerRow[],
    probes: 0,
    transactions: 0,
    record(row: LedgerRow) {
      store.recordMany([row]);
    },
    recordMany(rows: readonly LedgerRow[]) {
      if (store.failing) throw Object.assign(new Error(store.failing), { code: "SQLITE_FULL" });
      store.transactions++;
      store.rows.push(...rows);
    },
    probeWrite() {
      if (store.failing) throw Object.assign(new Error(store.failing), { code: "SQLITE_FULL" });
      store.probes++;
    },
    summary: () => [],
    sessionTotals: () => ({ requests: 0, promptTokens: 0, completionTokens: 0, quoted: 0, usage: 0 }),
    close() {},
  };
  return store satisfies GuardedStore;
}

function recordingLogger() {
  const lines: Array<{ level: string; msg: string }> = [];
  const log = (level: string) => (_obj: object | string, msg?: string) =>
    lines.push({ level, msg: msg ?? "" });
  const logger = {
    trace: log("trace"),
    debug: log("debug"),
    info: log("info"),
    warn: log("warn"),
    error: log("error"),
    child: () => logger,
  };
  return { logger, lines };
}

const row = { id: "r1" } as LedgerRow;

describe("LedgerGuard", () => {
  it("a failed row makes it unwritable (logged once, with why and the fix) until a write succeeds", async () => {
    const store = fakeStore();
    const { logger, lines } = recordingLogger();
    let free = 10 * 1024 * 1024;
    const guard = new LedgerGuard(store, { dir: "/ledger", logger, freeBytes: async () => free });
    expect(guard.unwritable()).toBeNull();
    store.failing = "database or disk is full";
    expect(() => guard.record(row)).toThrow(/disk is full/);
    expect(() => guard.record(row)).toThrow();
    expect(guard.unwritable()).toMatch(
      /ledger row could not be written \(SQLITE_FULL: database or disk is full\)/,
    );
    const errors = lines.filter((l) => l.level === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]?.msg).toMatch(/Refusing new requests .* free space on that disk/);

    await guard.check(); // the probe still fails: stays unwritable
    expect(guard.unwritable()).not.toBeNull();
    store.failing = null;
    free = 100; // writable, but not enough room to spare
    await guard.check();
    expect(guard.unwritable()).toMatch(/is full: 100 bytes free/);
    free = 10 * 1024 * 1024;
    await guard.check();
    expect(guard.unwritable()).toBeNull();
    expect(lines.at(-1)).toEqual({ level: "info", msg: "usage ledger writable again: accepting requests" });
    guard.record(row);
    expect(store.rows).toHaveLength(1);
  });

  it("a disk running out of room or an unreadable directory turns it unwritable before any row fails", async () => {
    const store = fakeStore();
    const { logger } = recordingLogger();
    let free: number | Error = 5 * 1024 * 1024;
    const guard = new LedgerGuard(store, {
      dir: "/ledger",
      logger,
      minFreeBytes: 4 * 1024 * 1024,
      freeBytes: async () => {
        if (free instanceof Error) throw free;
        return free;
      },
    });
    await guard.check();
    expect(guard.unwritable()).toBeNull();
    expect(store.probes).toBe(1);
    free = 3 * 1024 * 1024;
    await guard.check();
    expect(guard.unwritable()).toMatch(/\/ledger\) is full: 3145728 bytes free, 4194304 needed/);
    free = Object.assign(new Error("gone"), { code: "ENOENT" });
    store.failing = "x";
    free = 5 * 1024 * 1024;
    await guard.check();
    expect(guard.unwritable()).not.toBeNull(); // room again, but the write probe still fails
  });

  it("grouped rows of one round go into one transaction; a failed group rejects each and turns it unwritable", async () => {
    const store = fakeStore();
    const { logger } = recordingLogger();
    const guard = new LedgerGuard(store, { dir: "/ledger", logger, freeBytes: async () => 1e9 });
    const rows = ["a", "b", "c"].map((id) => ({ id }) as LedgerRow);
    await Promise.all(rows.map((r) => guard.recordGrouped(r)));
    expect(store.rows.map((r) => r.id)).toEqual(["a", "b", "c"]);
    expect(store.transactions).toBe(1);
    expect(guard.groupCommits).toBe(1);

    store.failing = "database or disk is full";
    const outcomes = await Promise.allSettled(rows.map((r) => guard.recordGrouped(r)));
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(guard.unwritable()).toMatch(/3 ledger row\(s\) could not be written \(SQLITE_FULL/);
  });

  it("close() commits the rows still queued before the store closes", () => {
    const store = fakeStore();
    const { logger } = recordingLogger();
    const guard = new LedgerGuard(store, { dir: "/ledger", logger });
    void guard.recordGrouped(row);
    expect(store.rows).toHaveLength(0); // queued for the end of this round
    guard.close();
    expect(store.rows).toHaveLength(1);
  });
});
