import { describe, expect, it } from "vitest";
import type { EngineDriver } from "../engine/engine-driver.js";
import { createLogger } from "../log/logger.js";
import { FakeClock } from "./clock.js";
import { ModelSet, type SwapGroupSpec, WakeTimeout } from "./model-set.js";
import { ReplicaSet } from "./replica-set.js";
import { FakeReplica } from "./testing/fake-replica.js";
import type { RequestTicket } from "./types.js";

const logger = createLogger({ level: "error" });
const driver: EngineDriver = {
  kind: "process",
  start: () => Promise.reject(new Error("not used")),
  removeOrphans: async () => [],
};
const GIB = 1024 ** 3;

interface Setup {
  names: string[];
  group?: Partial<SwapGroupSpec>;
  dedicated?: string[];
  idleSleepMs?: number;
  wakeTimeoutMs?: number;
  hostBudgetBytes?: number;
  weightsGib?: number;
}

/** A runner with the models `names` in one swap group (and `dedicated` ones), each one fake engine. */
async function setup(s: Setup) {
  const clock = new FakeClock();
  const log: string[] = [];
  const group: SwapGroupSpec = { name: "g", awake: 1, sleepLevel: 1, ...s.group };
  const fakes = new Map<string, FakeReplica>();
  const specs = [
    ...(s.dedicated ?? []).map((id) => ({ id, swap: false })),
    ...s.names.map((id) => ({ id, swap: true })),
  ];
  const models = new ModelSet(
    specs.map(({ id, swap }) => {
      const fake = new FakeReplica(0, "stopped", swap, log, id);
      fakes.set(id, fake);
      const replicas = new ReplicaSet([{ index: 0, gpuIds: [0], maxNumSeqs: 4, supervisor: fake }], {
        driver,
        logger,
      });
      return { id, replicas, group: swap ? group : null, weightsBytes: () => (s.weightsGib ?? 10) * GIB };
    }),
    {
      clock,
      logger,
      idleSleepMs: s.idleSleepMs ?? 0,
      wakeTimeoutMs: s.wakeTimeoutMs ?? 60_000,
      hostBudgetBytes: s.hostBudgetBytes ?? 1000 * GIB,
      bootTimeoutMs: 1_000,
    },
  );
  await models.start();
  await settle();
  const states = () => Object.fromEntries(models.figures().map((f) => [f.id, f.state]));
  const fake = (id: string) => fakes.get(id) as FakeReplica;
  const acquire = (id: string, signal?: AbortSignal) =>
    models.model(id)?.acquire(signal) as Promise<RequestTicket>;
  return { clock, log, models, states, fake, acquire };
}

/** Lets the promise chains (locks, sleeps, wakes) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

describe("ModelSet start", () => {
  it("starts a group's engines one at a time, last first, so that the first `awake` models of the file are awake", async () => {
    const { log, states } = await setup({ names: ["a", "b", "c"], group: { awake: 2 } });
    expect(log).toEqual(["start c", "start b", "sleep c", "start a"]);
    expect(states()).toEqual({ a: "awake", b: "awake", c: "asleep" });
  });

  it("starts dedicated models at once, outside any group", async () => {
    const { log, states } = await setup({ names: ["a", "b"], dedicated: ["d"] });
    expect(log[0]).toBe("start d");
    expect(states()).toEqual({ d: "awake", a: "awake", b: "asleep" });
  });
});

describe("ModelSet wake on request", () => {
  it("a request for a sleeping model puts the least recently used awake one to sleep first, then wakes it", async () => {
    const { log, states, acquire, models } = await setup({ names: ["a", "b", "c"], group: { awake: 2 } });
    log.length = 0;
    (await acquire("a")).end(); // a used after b: b is now the least recently used
    const ticket = await acquire("c");
    expect(ticket.endpoint.baseUrl).toBeDefined();
    expect(log).toEqual(["sleep b", "wake c"]);
    expect(states()).toEqual({ a: "awake", b: "asleep", c: "awake" });
    expect(models.figures().find((f) => f.id === "c")).toMatchObject({ wakes: 1, active: 1 });
    ticket.end();
    expect(models.figures().find((f) => f.id === "c")?.active).toBe(0);
  });

  it("a wake's and a sleep's counts are announced to the status writer once counted", async () => {
    const { acquire, models } = await setup({ names: ["a", "b"] });
    const seen: Array<Record<string, [number, number]>> = [];
    models.onReplicaChange(() =>
      seen.push(Object.fromEntries(models.figures().map((f) => [f.id, [f.wakes, f.sleeps]]))),
    );
    (await acquire("b")).end();
    await settle();
    expect(seen.at(-1)).toEqual({ a: [0, 1], b: [1, 1] });
    expect(seen).toContainEqual({ a: [0, 1], b: [0, 1] });
  });

  it("no request is cut by a swap: the awake model drains first, its request ends untouched, then the swap", async () => {
    const { log, states, acquire, fake } = await setup({ names: ["a", "b"] });
    log.length = 0;
    const running = await acquire("a");
    let got: RequestTicket | null = null;
    void acquire("b").then((t) => {
      got = t;
    });
    await settle();
    expect(log).toEqual([]); // a still serves its request
    expect(states().a).toBe("awake");
    // While a drains for the swap, a new request for a waits (it would otherwise keep a awake forever).
    let second: RequestTicket | null = null;
    void acquire("a").then((t) => {
      second = t;
    });
    await settle();
    expect(second).toBeNull();
    expect(running.signal.aborted).toBe(false);
    running.end();
    await settle();
    expect(log).toEqual(["sleep a", "wake b"]);
    expect(got).not.toBeNull();
    expect(fake("a").sleeps).toEqual([1]);
    // a's waiting request wakes a in turn once b is done.
    (got as unknown as RequestTicket).end();
    await settle();
    expect(log).toEqual(["sleep a", "wake b", "sleep b", "wake a"]);
    expect(second).not.toBeNull();
  });

  it("a wake slower than MODEL_WAKE_TIMEOUT is refused with a Retry-After; the wake goes on", async () => {
    const { clock, acquire, fake, states } = await setup({ names: ["a", "b"], wakeTimeoutMs: 5_000 });
    let open = () => {};
    fake("b").gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const waiting = acquire("b");
    const refused = expect(waiting).rejects.toBeInstanceOf(WakeTimeout);
    await settle();
    await clock.advance(5_000);
    await settle();
    await refused;
    await waiting.catch((err: WakeTimeout) => {
      expect(err.retryAfterS).toBe(5);
      expect(err.message).toMatch(
        /^The model b is waking up .*within 5 s \(MODEL_WAKE_TIMEOUT\); retry in 5 s\.$/,
      );
    });
    open();
    await settle();
    expect(states().b).toBe("awake");
    (await acquire("b")).end();
  });

  it("a wake that fails restarts the engine like a crash, and the waiting request is served once it is back", async () => {
    const { acquire, fake, states } = await setup({ names: ["a", "b"] });
    fake("b").failNextWake = true;
    let got: RequestTicket | null = null;
    void acquire("b").then((t) => {
      got = t;
    });
    await settle();
    expect(states().b).toBe("restarting");
    expect(got).toBeNull();
    fake("b").setState("ready"); // restarted: a new engine, awake
    await settle();
    expect(got).not.toBeNull();
  });

  it("a client that goes away while its model wakes leaves no count behind", async () => {
    const { acquire, fake, models } = await setup({ names: ["a", "b"] });
    fake("b").gate = new Promise<void>(() => {});
    const controller = new AbortController();
    const waiting = acquire("b", controller.signal);
    await settle();
    controller.abort(new Error("client gone"));
    await expect(waiting).rejects.toThrow("client gone");
    expect(models.figures().find((f) => f.id === "b")?.active).toBe(0);
  });

  it("a dedicated model never waits and never sleeps", async () => {
    const { acquire, log } = await setup({ names: ["a", "b"], dedicated: ["d"], idleSleepMs: 1_000 });
    log.length = 0;
    const t = await acquire("d");
    t.end();
    expect(log).toEqual([]);
  });
});

describe("ModelSet idle sleep and levels", () => {
  it("an awake model nobody asked for in MODEL_IDLE_SLEEP goes to sleep; one in use stays awake", async () => {
    const { clock, acquire, states } = await setup({
      names: ["a", "b", "c"],
      group: { awake: 2 },
      idleSleepMs: 10_000,
    });
    const held = await acquire("b");
    await clock.advance(9_000);
    await settle();
    expect(states()).toMatchObject({ a: "awake", b: "awake" });
    await clock.advance(2_000);
    await settle();
    expect(states()).toMatchObject({ a: "asleep", b: "awake" });
    held.end();
    // Checked every quarter of MODEL_IDLE_SLEEP: asleep within 12.5 s of its last request.
    await clock.advance(10_000);
    await settle();
    expect(states().b).toBe("awake");
    await clock.advance(2_500);
    await settle();
    expect(states()).toMatchObject({ a: "asleep", b: "asleep" });
  });

  it("sleeps at level 2 when the level-1 sleepers' weights would pass the host RAM budget", async () => {
    const { acquire, fake } = await setup({
      names: ["a", "b", "c"],
      hostBudgetBytes: 25 * GIB,
      weightsGib: 10,
    });
    // Booted: c (level 1, 10 GiB held), then b (level 1, 20 GiB held); a awake.
    expect([fake("c").sleeps, fake("b").sleeps]).toEqual([[1], [1]]);
    (await acquire("b")).end(); // a goes to sleep: 20 + 10 > 25 → level 2
    await settle();
    expect(fake("a").sleeps).toEqual([2]);
  });

  it("a group's engine restarting makes room first (it restarts awake)", async () => {
    const { models, states, fake } = await setup({ names: ["a", "b"] });
    fake("b").setState("restarting");
    await models.beforeRestart("b");
    expect(states().a).toBe("asleep");
  });
});
