import { describe, expect, it } from "vitest";
import { GroupCommit, type Scheduler } from "./group-commit.js";
import type { LedgerRow } from "./ledger-types.js";

const row = (id: string) => ({ id }) as LedgerRow;

/** A scheduler the test runs by hand: one "round" of the event loop per run(). */
function manual() {
  const queue: Array<() => void> = [];
  const schedule: Scheduler = (fn) => {
    queue.push(fn);
  };
  const run = () => {
    for (const fn of queue.splice(0)) fn();
  };
  return { schedule, run, pending: () => queue.length };
}

describe("GroupCommit", () => {
  it("commits the rows of one round in one transaction, and settles each only after that commit", async () => {
    const commits: string[][] = [];
    const s = manual();
    const group = new GroupCommit((rows) => commits.push(rows.map((r) => r.id)), s.schedule);
    const settled: string[] = [];
    const a = group.add(row("a")).then(() => settled.push("a"));
    const b = group.add(row("b")).then(() => settled.push("b"));
    expect(s.pending()).toBe(1); // one flush per round, however many rows
    await Promise.resolve();
    expect(settled).toEqual([]); // nothing is durable before the commit
    expect(commits).toEqual([]);
    s.run();
    await Promise.all([a, b]);
    expect(commits).toEqual([["a", "b"]]);
    expect(settled).toEqual(["a", "b"]);

    const c = group.add(row("c"));
    s.run();
    await c;
    expect(commits).toEqual([["a", "b"], ["c"]]);
    expect(group.commits).toBe(2);
  });

  it("rejects every row of a failed commit, and the next round commits again", async () => {
    let fail = true;
    const committed: string[] = [];
    const s = manual();
    const group = new GroupCommit((rows) => {
      if (fail) throw new Error("disk full");
      committed.push(...rows.map((r) => r.id));
    }, s.schedule);
    const a = group.add(row("a"));
    const b = group.add(row("b"));
    s.run();
    await expect(a).rejects.toThrow("disk full");
    await expect(b).rejects.toThrow("disk full");
    fail = false;
    const c = group.add(row("c"));
    s.run();
    await c;
    expect(committed).toEqual(["c"]);
  });

  it("flush() commits what is queued at once (before the ledger closes); the scheduled round then has nothing", async () => {
    const commits: string[][] = [];
    const s = manual();
    const group = new GroupCommit((rows) => commits.push(rows.map((r) => r.id)), s.schedule);
    const a = group.add(row("a"));
    group.flush();
    await a;
    s.run();
    expect(commits).toEqual([["a"]]);
  });

  it("by default commits at setImmediate: rows added in the same tick share the commit", async () => {
    const commits: number[] = [];
    const group = new GroupCommit((rows) => commits.push(rows.length));
    await Promise.all([group.add(row("a")), group.add(row("b")), group.add(row("c"))]);
    expect(commits).toEqual([3]);
  });
});
