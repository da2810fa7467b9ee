import { describe, expect, it } from "vitest";
import type { EngineDriver } from "../engine/engine-driver.js";
import { createLogger } from "../log/logger.js";
import { foldState } from "./replica-fold.js";
import { type Replica, ReplicaSet } from "./replica-set.js";
import type { RouterPolicy } from "./routing/route-decision.js";
import { FakeReplica } from "./testing/fake-replica.js";
import type { RequestTicket, SupervisorState } from "./types.js";

const logger = createLogger({ level: "error" });

const driver: EngineDriver = {
  kind: "process",
  start: () => Promise.reject(new Error("not used")),
  removeOrphans: async () => [],
};

function set(states: SupervisorState[], router?: RouterPolicy) {
  const fakes = states.map((s, i) => new FakeReplica(i, s));
  const members: Replica[] = fakes.map((f) => ({
    index: f.index,
    gpuIds: [f.index],
    maxNumSeqs: 4,
    supervisor: f,
  }));
  return { fakes, replicas: new ReplicaSet(members, { driver, logger, ...(router ? { router } : {}) }) };
}

describe("ReplicaSet routing", () => {
  it("sends each request to the ready replica with the fewest in flight; ties rotate", () => {
    const { replicas } = set(["ready", "ready", "ready"]);
    const picks = Array.from({ length: 6 }, () => replicas.admit()?.endpoint.replica);
    expect(picks).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it("a replica with fewer in flight is chosen first", () => {
    const { replicas } = set(["ready", "ready"]);
    const a = replicas.admit();
    const b = replicas.admit();
    expect([a?.endpoint.replica, b?.endpoint.replica]).toEqual([0, 1]);
    b?.end();
    expect(replicas.admit()?.endpoint.replica).toBe(1);
  });

  it("loading, restarting and draining replicas get nothing; none ready → null", () => {
    const { replicas, fakes } = set(["loading", "ready", "draining"]);
    for (let i = 0; i < 4; i++) expect(replicas.admit()?.endpoint.replica).toBe(1);
    fakes[1]?.setState("restarting");
    expect(replicas.admit()).toBeNull();
  });

  it("a ticket held by a slow client (backpressure) tells its own replica's ticket, so that replica's watchdog knows", () => {
    const { replicas, fakes } = set(["ready", "ready"]);
    const a = replicas.admit();
    a?.backpressure?.(true);
    a?.backpressure?.(false);
    expect(fakes.map((f) => f.backpressure)).toEqual([[true, false], []]);
  });

  it("one replica failing aborts only its own tickets", () => {
    const { replicas, fakes } = set(["ready", "ready"]);
    const tickets = Array.from({ length: 4 }, () => replicas.admit() as RequestTicket);
    fakes[0]?.fail();
    expect(tickets.map((t) => [t.endpoint.replica, t.signal.aborted])).toEqual([
      [0, true],
      [1, false],
      [0, true],
      [1, false],
    ]);
    expect(replicas.snapshot().state).toBe("ready");
    expect(replicas.snapshot().inFlight).toBe(2);
  });
});

describe("ReplicaSet with ROUTER=prefix (the default)", () => {
  const tenant = (t: number) => new Int32Array(Array.from({ length: 12 }, (_, i) => t * 1000 + i));

  it("a tenant's prompt goes back to its replica, and the ticket says why", async () => {
    const { replicas } = set(["ready", "ready", "ready"]);
    const first = await replicas.acquire(undefined, { blocks: tenant(1) });
    expect(first?.route).toMatchObject({
      policy: "prefix",
      reason: "load",
      matchedBlocks: 0,
      totalBlocks: 12,
    });
    first?.end();
    const other = await replicas.acquire(undefined, { blocks: tenant(2) });
    const again = await replicas.acquire(undefined, { blocks: tenant(1) });
    expect(again?.endpoint.replica).toBe(first?.endpoint.replica);
    expect(again?.route).toMatchObject({ reason: "prefix_hit", matchedBlocks: 12 });
    expect(other?.endpoint.replica).not.toBe(first?.endpoint.replica);
  });

  it("a restarted replica's prefixes are gone: the tenant is routed by load again", async () => {
    const { replicas, fakes } = set(["ready", "ready"]);
    const first = await replicas.acquire(undefined, { blocks: tenant(1) });
    first?.end();
    const home = fakes[first?.endpoint.replica as number] as FakeReplica;
    home.setState("restarting");
    home.generation = 2;
    home.setState("ready");
    const after = await replicas.acquire(undefined, { blocks: tenant(1) });
    expect(after?.route).toMatchObject({ reason: "load", matchedBlocks: 0 });
  });

  it("a replica that dies takes its prefixes with it at once, and its tenants move", async () => {
    const { replicas, fakes } = set(["ready", "ready"]);
    const first = await replicas.acquire(undefined, { blocks: tenant(1) });
    const home = first?.endpoint.replica as number;
    (fakes[home] as FakeReplica).fail(); // restarting: its entries go on this state event
    const moved = await replicas.acquire(undefined, { blocks: tenant(1) });
    expect(moved?.endpoint.replica).toBe(1 - home);
    expect(moved?.route).toMatchObject({ reason: "load", matchedBlocks: 0 });
    moved?.end();
    // Back with the same generation (a flapping state, say): nothing of the old cache is trusted.
    (fakes[home] as FakeReplica).setState("ready");
    (fakes[1 - home] as FakeReplica).fail();
    const back = await replicas.acquire(undefined, { blocks: tenant(1) });
    expect(back?.endpoint.replica).toBe(home);
    expect(back?.route).toMatchObject({ reason: "load", matchedBlocks: 0 });
  });

  it("a queued request is routed by its own prompt when a slot frees", async () => {
    const { replicas } = set(["ready", "ready"]);
    const held: RequestTicket[] = [];
    for (let i = 0; i < 8; i++)
      held.push((await replicas.acquire(undefined, { blocks: tenant(i % 2) })) as RequestTicket);
    const waiting = replicas.acquire(undefined, { blocks: tenant(1) });
    const homeOf1 = held[1]?.endpoint.replica;
    held.find((t) => t.endpoint.replica !== homeOf1)?.end(); // a slot frees on the other replica only
    const ticket = await waiting;
    expect(ticket?.endpoint.replica).not.toBe(homeOf1);
    expect(ticket?.route?.reason).toBe("fallback");
  });

  it("least-in-flight and round-robin ignore prompts", async () => {
    for (const router of ["least-in-flight", "round-robin"] as const) {
      const { replicas } = set(["ready", "ready"], router);
      const a = await replicas.acquire(undefined, { blocks: tenant(1) });
      const b = await replicas.acquire(undefined, { blocks: tenant(1) });
      expect([a?.endpoint.replica, b?.endpoint.replica]).toEqual([0, 1]);
      expect(b?.route).toMatchObject({ policy: router, reason: "load", matchedBlocks: 0 });
    }
  });
});

describe("ReplicaSet state", () => {
  it("folds: ready while any is ready, loading while none is but one loads, failed only when all failed", () => {
    expect(foldState(["failed", "ready", "restarting"])).toBe("ready");
    expect(foldState(["failed", "loading", "restarting"])).toBe("loading");
    expect(foldState(["failed", "restarting"])).toBe("restarting");
    expect(foldState(["failed", "failed"])).toBe("failed");
  });

  it("emits the folded state's changes only", () => {
    const { replicas, fakes } = set(["loading", "loading"]);
    const seen: string[] = [];
    replicas.on((e) => {
      if (e.type === "state") seen.push(`${e.from}->${e.to}`);
    });
    fakes[0]?.setState("ready");
    fakes[1]?.setState("ready");
    fakes[0]?.setState("restarting");
    fakes[1]?.setState("failed");
    fakes[0]?.setState("failed");
    expect(seen).toEqual(["loading->ready", "ready->restarting", "restarting->failed"]);
  });

  it("gives /metrics a snapshot per replica, also when there is only one", () => {
    expect(
      set(["ready"])
        .replicas.replicaSnapshots()
        .map((r) => [r.replica, r.gpus, r.state]),
    ).toEqual([[0, "0", "ready"]]);
    expect(
      set(["ready", "restarting"])
        .replicas.replicaSnapshots()
        .map((r) => r.state),
    ).toEqual(["ready", "restarting"]);
  });

  it("reports each replica with its GPUs", () => {
    const { replicas } = set(["ready", "loading"]);
    expect(replicas.replicas().map((r) => [r.replica, r.gpus, r.state])).toEqual([
      [0, "0", "ready"],
      [1, "1", "loading"],
    ]);
  });
});

describe("ReplicaSet.replace (reload)", () => {
  it("one replica rolled: reads LOADING while it drains and stops (never stopped/ERROR), ready after", async () => {
    const { replicas, fakes } = set(["ready"]);
    const seen: string[] = [];
    replicas.on((e) => {
      if (e.type === "state") seen.push(e.to);
    });
    const old = fakes[0] as FakeReplica;
    old.stop = async () => {
      old.setState("draining");
      old.setState("stopped");
    };
    const next = new FakeReplica(0, "stopped");
    next.start = async () => {
      next.setState("loading");
      next.setState("ready");
    };
    await replicas.replace({ index: 0, gpuIds: [0], maxNumSeqs: 4, supervisor: next }, 1_000);
    expect(seen).toEqual(["loading", "ready"]);
    expect(replicas.admit()?.endpoint.replica).toBe(0);
  });
});

describe("ReplicaSet.stop during a reload", () => {
  it("a replace whose old replica is still draining starts no new engine once the set is stopping", async () => {
    const { replicas, fakes } = set(["ready", "ready"]);
    const old = fakes[0] as FakeReplica;
    // Like Supervisor.stop: one drain, the same promise to every caller.
    let finishDrain = () => {};
    const drained = new Promise<void>((resolve) => {
      finishDrain = resolve;
    });
    old.stop = () => drained;
    const next = new FakeReplica(0, "stopped");
    let started = false;
    next.start = async () => {
      started = true;
    };
    const rolling = replicas.replace({ index: 0, gpuIds: [0], maxNumSeqs: 4, supervisor: next }, 1_000);
    const stopping = replicas.stop();
    finishDrain();
    await expect(rolling).rejects.toThrow(/stopping/);
    await stopping;
    expect(started).toBe(false);
  });
});

describe("ReplicaSet.hold (before the engines start)", () => {
  it("reads as loading with the given progress, then failed with the given error, then the engines' own state", () => {
    const { replicas } = set(["stopped", "stopped"]);
    const events: string[] = [];
    replicas.on((e) => {
      if (e.type === "state") events.push(`state ${e.to}`);
      else if (e.type === "progress") events.push(`progress ${e.progress}`);
      else if (e.type === "error") events.push(`error ${e.error.reason}`);
    });
    replicas.hold({ state: "loading", progress: 0.25, detail: "downloading m: 25%" });
    expect(replicas.snapshot()).toMatchObject({
      state: "loading",
      progress: 0.25,
      progressDetail: "downloading m: 25%",
    });
    replicas.hold({ state: "loading", progress: 0.5, detail: "downloading m: 50%" });
    expect(replicas.readySlots()).toBe(0);
    expect(replicas.admit()).toBeNull();
    const error = { reason: "pull_failed" as const, message: "gone", hint: "fix it", logTail: [], at: "t" };
    replicas.hold({ state: "failed", error });
    expect(replicas.snapshot()).toMatchObject({ state: "failed", lastError: error });
    replicas.hold(null);
    expect(replicas.snapshot().state).toBe("stopped");
    expect(events).toEqual([
      "state loading",
      "progress 0.5",
      "error pull_failed",
      "state failed",
      "state stopped",
    ]);
  });
});
