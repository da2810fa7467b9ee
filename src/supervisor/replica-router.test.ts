import { describe, expect, it } from "vitest";
import type { EngineDriver } from "../engine/engine-driver.js";
import { Admission } from "../gateway/exchange/admission.js";
import { GatewayError } from "../gateway/http/gateway-error.js";
import { createLogger } from "../log/logger.js";
import { FakeClock } from "./clock.js";
import type { ProbeResult } from "./engine-probe.js";
import { type Replica, ReplicaSet } from "./replica-set.js";
import { FakeReplica } from "./testing/fake-replica.js";
import type { RequestTicket, SupervisorState } from "./types.js";

const logger = createLogger({ level: "error" });

const driver: EngineDriver = {
  kind: "process",
  start: () => Promise.reject(new Error("not used")),
  removeOrphans: async () => [],
};

/** Replicas of one slot each (MAX_NUM_SEQS 1), probed on a fake clock with a scripted /health answer. */
function set(states: SupervisorState[], health: ProbeResult = "unreachable") {
  const fakes = states.map((s, i) => new FakeReplica(i, s));
  const members: Replica[] = fakes.map((f) => ({
    index: f.index,
    gpuIds: [f.index],
    maxNumSeqs: 1,
    supervisor: f,
  }));
  const clock = new FakeClock();
  const probe = { answer: health, asked: 0 };
  const replicas = new ReplicaSet(members, {
    driver,
    logger,
    suspects: {
      clock,
      probeDelayMs: 500,
      probe: {
        health: async () => {
          probe.asked += 1;
          return probe.answer;
        },
      },
    },
  });
  return { fakes, replicas, clock, probe };
}

/** Lets settled promises run their callbacks. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

/** Records which waiters got a ticket (and on which replica), in the order they got it. */
function track(p: Promise<RequestTicket | null>, name: string, log: string[]) {
  const out: { ticket?: RequestTicket | null; error?: unknown } = {};
  p.then(
    (t) => {
      out.ticket = t;
      log.push(`${name}@${t?.endpoint.replica ?? "none"}`);
    },
    (error) => {
      out.error = error;
      log.push(`${name}!`);
    },
  );
  return out;
}

describe("ReplicaSet.acquire: the gateway's FIFO", () => {
  it("takes free slots at once, then hands freed slots to waiters in arrival order", async () => {
    const { replicas } = set(["ready", "ready"]);
    const a = await replicas.acquire();
    const b = await replicas.acquire();
    expect([a?.endpoint.replica, b?.endpoint.replica].sort()).toEqual([0, 1]);
    const log: string[] = [];
    const w1 = track(replicas.acquire(), "w1", log);
    const w2 = track(replicas.acquire(), "w2", log);
    const w3 = track(replicas.acquire(), "w3", log);
    await flush();
    expect(log).toEqual([]);
    b?.end();
    await flush();
    expect(log).toEqual([`w1@${b?.endpoint.replica}`]);
    a?.end();
    await flush();
    expect(log).toEqual([`w1@${b?.endpoint.replica}`, `w2@${a?.endpoint.replica}`]);
    w1.ticket?.end();
    await flush();
    expect(log[2]).toBe(`w3@${b?.endpoint.replica}`);
    expect(w2.ticket && w3.ticket).toBeTruthy();
  });

  it("a waiter whose client goes away leaves the queue; the slot goes to the next one", async () => {
    const { replicas, fakes } = set(["ready"]);
    const held = await replicas.acquire();
    const log: string[] = [];
    const gone = new AbortController();
    const w1 = track(replicas.acquire(gone.signal), "w1", log);
    track(replicas.acquire(), "w2", log);
    gone.abort(new Error("client gone"));
    await flush();
    expect(log).toEqual(["w1!"]);
    expect((w1.error as Error).message).toBe("client gone");
    held?.end();
    await flush();
    expect(log).toEqual(["w1!", "w2@0"]);
    expect(fakes[0]?.live.size).toBe(1); // only w2's ticket: the gone client never reached the engine
  });

  it("a replica that becomes ready wakes the waiters", async () => {
    const { replicas, fakes } = set(["ready", "loading"]);
    await replicas.acquire();
    const log: string[] = [];
    track(replicas.acquire(), "w1", log);
    await flush();
    fakes[1]?.setState("ready");
    await flush();
    expect(log).toEqual(["w1@1"]);
  });

  it("stop (drain) and no replica ready end the waiters with null", async () => {
    const { replicas, fakes } = set(["ready", "ready"]);
    await replicas.acquire();
    await replicas.acquire();
    const log: string[] = [];
    track(replicas.acquire(), "w1", log);
    fakes[0]?.setState("restarting");
    await flush();
    expect(log).toEqual([]); // replica 1 is still ready: wait for it
    fakes[1]?.setState("draining");
    await flush();
    expect(log).toEqual(["w1@none"]);
    track(replicas.acquire(), "w2", log);
    await flush();
    expect(log).toEqual(["w1@none", "w2@none"]);

    const other = set(["ready"]);
    await other.replicas.acquire();
    const log2: string[] = [];
    track(other.replicas.acquire(), "w", log2);
    await other.replicas.stop();
    await flush();
    expect(log2).toEqual(["w@none"]);
  });
});

describe("Admission.acquire over replicas", () => {
  it("counts waiters against Σ MAX_NUM_SEQS + QUEUE_SIZE: over it 429; drain answers not ready", async () => {
    const { replicas, fakes } = set(["ready", "ready"]);
    const admission = new Admission(replicas, 1, 1); // 2 slots + 1 queued
    const running = [await admission.acquire(), await admission.acquire()];
    const waiting = admission.acquire();
    expect(admission.inFlight).toBe(3);
    expect(admission.queueDepth).toBe(1);
    await expect(admission.acquire()).rejects.toMatchObject({ status: 429 });
    running[0]?.release();
    const third = await waiting;
    expect(third.ticket.endpoint.replica).toBe(running[0]?.ticket.endpoint.replica);
    const late = admission.acquire();
    fakes[0]?.setState("draining");
    fakes[1]?.setState("draining");
    const err = await late.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).status).toBe(503);
    expect(admission.inFlight).toBe(2);
  });
});

describe("suspect replicas", () => {
  it("a replica whose engine failed a request takes nothing new, so its freed slots can't draw the queue", async () => {
    const { replicas } = set(["ready", "ready"]);
    const a = await replicas.acquire();
    const b = await replicas.acquire();
    const dead = a?.endpoint.replica;
    const log: string[] = [];
    track(replicas.acquire(), "w1", log);
    a?.failed?.(); // Exchange.finish: failed() before end()
    a?.end();
    await flush();
    expect(log).toEqual([]);
    const extra = replicas.admit(); // the engine queue path, beyond the slots: not the dead one either
    expect(extra?.endpoint.replica).not.toBe(dead);
    extra?.end();
    b?.end();
    await flush();
    expect(log).toEqual([`w1@${b?.endpoint.replica}`]);
  });

  it("is trusted again once its supervisor runs a new engine (new generation)", async () => {
    // A second replica (loading) makes the set one that can divert traffic; only then are replicas marked.
    const { replicas, fakes } = set(["ready", "loading"]);
    const a = await replicas.acquire();
    a?.failed?.();
    a?.end();
    expect(replicas.admit()).toBeNull();
    const fake = fakes[0] as FakeReplica;
    fake.setState("restarting");
    fake.generation = 2;
    fake.setState("ready");
    expect(replicas.admit()?.endpoint.generation).toBe(2);
  });

  it("is trusted again when a probe of its /health answers ok, and then wakes the waiters", async () => {
    const { replicas, clock, probe } = set(["ready", "loading"]);
    const a = await replicas.acquire();
    const log: string[] = [];
    track(replicas.acquire(), "w1", log);
    a?.failed?.();
    a?.end();
    await clock.advance(500);
    await flush();
    expect(probe.asked).toBe(1);
    expect(log).toEqual([]); // unreachable: still suspect, probed again later
    probe.answer = "ok";
    await clock.advance(500);
    await flush();
    expect(probe.asked).toBe(2);
    expect(log).toEqual(["w1@0"]);
  });

  it("a lone replica is never marked: one engine error must not refuse everyone while a probe waits", async () => {
    const { replicas, probe, clock } = set(["ready"]);
    const a = await replicas.acquire();
    a?.failed?.();
    a?.end();
    const next = replicas.admit();
    expect(next?.endpoint.replica).toBe(0);
    next?.end();
    await clock.advance(500);
    expect(probe.asked).toBe(0);
  });
});
