// Admission across HTTP workers (GATEWAY_WORKERS > 1): every worker's RemoteAdmission asks the one AdmissionHost in
// the primary. The channel is simulated by queues delivered in random order and at random times, as the real IPC
// pipe would interleave several workers; the invariant: never more than the engine's capacity
// (MAX_NUM_SEQS + QUEUE_SIZE) in flight, whatever the workers do, and every slot comes back.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Admission, type AdmittedRequest } from "../../gateway/exchange/admission.js";
import { GatewayError } from "../../gateway/http/gateway-error.js";
import { StaticSupervisor } from "../../gateway/testing/static-supervisor.js";
import { AdmissionHost, slotRequests } from "./admission-host.js";
import { enginesView } from "./engines-view.js";
import { dispatch, type SlotReply, type SlotRequest } from "./messages.js";
import { RemoteAdmission, slotReplies } from "./remote-admission.js";

const ENDPOINT = { baseUrl: "http://127.0.0.1:1", apiKey: "k", generation: 1 };

/** N workers and one primary, with the messages in flight held in queues the test delivers. */
function cluster(workers: number, maxNumSeqs: number, queueSize: number) {
  const supervisor = new StaticSupervisor(ENDPOINT);
  const admission = new Admission(supervisor, maxNumSeqs, queueSize);
  const toPrimary: Array<{ worker: number; message: SlotRequest }> = [];
  const toWorker: Array<{ worker: number; message: SlotReply }> = [];
  const host = new AdmissionHost(admission, (worker, message) => toWorker.push({ worker, message }));
  const view = enginesView(supervisor, admission);
  const remotes = Array.from(
    { length: workers },
    (_, worker) =>
      new RemoteAdmission(
        () => view.admission,
        (message) => toPrimary.push({ worker, message }),
      ),
  );
  // The processes' own tables: the primary's for each worker's slot messages, each worker's for the answers.
  const primaryTables = remotes.map((_, worker) => slotRequests(host, worker));
  const workerTables = remotes.map((remote) => slotReplies(remote));
  // Each worker's channel is FIFO (one pipe); only the order between workers is arbitrary. So "deliver i"
  // delivers the oldest message of message i's worker.
  const oldestOf = <T extends { worker: number }>(queue: T[], i: number) =>
    queue.findIndex((m) => m.worker === queue[i]?.worker);
  const deliverToPrimary = (i: number) => {
    const [item] = toPrimary.splice(oldestOf(toPrimary, i), 1);
    if (!item) return;
    dispatch(primaryTables[item.worker] as (typeof primaryTables)[number], item.message);
  };
  const deliverToWorker = (i: number) => {
    const [item] = toWorker.splice(oldestOf(toWorker, i), 1);
    if (!item) return;
    dispatch(workerTables[item.worker] as (typeof workerTables)[number], item.message);
  };
  return { supervisor, admission, host, remotes, toPrimary, toWorker, deliverToPrimary, deliverToWorker };
}

/** Lets the promise callbacks (admission's .then) run. */
const settle = () => new Promise((r) => setImmediate(r));

describe("admission across workers", () => {
  it("grants MAX_NUM_SEQS + QUEUE_SIZE over all workers and refuses the rest with the primary's 429", async () => {
    const c = cluster(3, 2, 1);
    const outcomes = c.remotes.flatMap((r) => [r, r, r].map(() => r.acquire()));
    while (c.toPrimary.length) c.deliverToPrimary(0);
    await settle();
    while (c.toWorker.length) c.deliverToWorker(0);
    const results = await Promise.allSettled(outcomes);
    const granted = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected");
    expect(granted).toHaveLength(3);
    expect(refused).toHaveLength(6);
    for (const r of refused) {
      const err = (r as PromiseRejectedResult).reason;
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).status).toBe(429);
    }
    expect(c.supervisor.inFlight).toBe(3);
    for (const g of granted) (g as PromiseFulfilledResult<AdmittedRequest>).value.release();
    while (c.toPrimary.length) c.deliverToPrimary(0);
    expect(c.supervisor.inFlight).toBe(0);
    expect(c.admission.inFlight).toBe(0);
  });

  it("a client that leaves while its grant is on the way frees the slot; a dead worker gives back all it held", async () => {
    const c = cluster(2, 4, 0);
    const controller = new AbortController();
    const leaving = c.remotes[0]?.acquire(controller.signal) as Promise<AdmittedRequest>;
    const staying = c.remotes[1]?.acquire() as Promise<AdmittedRequest>;
    while (c.toPrimary.length) c.deliverToPrimary(0);
    await settle();
    controller.abort(new Error("client gone")); // the grant is already queued to worker 0
    await expect(leaving).rejects.toThrow("client gone");
    while (c.toWorker.length) c.deliverToWorker(0);
    while (c.toPrimary.length) c.deliverToPrimary(0); // the "cancel"
    expect(c.supervisor.inFlight).toBe(1);
    const held = await staying;
    expect(held.ticket.endpoint).toEqual(ENDPOINT);
    c.host.dropWorker(1);
    expect(c.supervisor.inFlight).toBe(0);
    expect(c.admission.inFlight).toBe(0);
  });

  it("an engine death reaches the worker's ticket as an abort; progress reaches the supervisor's tickets", async () => {
    const c = cluster(1, 4, 0);
    const pending = c.remotes[0]?.acquire() as Promise<AdmittedRequest>;
    c.deliverToPrimary(0);
    await settle();
    c.deliverToWorker(0);
    const request = await pending;
    request.ticket.progress();
    await new Promise((r) => setTimeout(r, 150)); // PROGRESS_FLUSH_MS
    while (c.toPrimary.length) c.deliverToPrimary(0);
    expect(c.supervisor.progressCalls).toBe(1);
    c.supervisor.killInFlight("engine died");
    while (c.toWorker.length) c.deliverToWorker(0);
    expect(request.ticket.signal.aborted).toBe(true);
    expect((request.ticket.signal.reason as Error).message).toBe("engine died");
    request.release();
    c.deliverToPrimary(0);
    expect(c.admission.inFlight).toBe(0);
  });

  it("once the primary is gone, waiting and new requests get a 503 at once and held tickets are aborted", async () => {
    const c = cluster(1, 1, 1);
    const remote = c.remotes[0] as RemoteAdmission;
    const first = remote.acquire();
    const second = remote.acquire();
    c.deliverToPrimary(0);
    await settle();
    c.deliverToWorker(0);
    const held = await first;
    remote.disconnected("the runner's main process exited");
    await expect(second).rejects.toMatchObject({ status: 503 });
    await expect(remote.acquire()).rejects.toMatchObject({
      status: 503,
      message: "the runner's main process exited",
    });
    expect(held.ticket.signal.aborted).toBe(true);
  });

  it("never more than capacity in flight, whatever the interleaving (property)", async () => {
    type Op =
      | { kind: "acquire"; worker: number; leaveAfter: boolean }
      | { kind: "release"; pick: number }
      | { kind: "toPrimary"; pick: number }
      | { kind: "toWorker"; pick: number }
      | { kind: "settle" }
      | { kind: "dropWorker"; worker: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant("acquire" as const), worker: fc.nat(2), leaveAfter: fc.boolean() }),
      fc.record({ kind: fc.constant("release" as const), pick: fc.nat(50) }),
      fc.record({ kind: fc.constant("toPrimary" as const), pick: fc.nat(50) }),
      fc.record({ kind: fc.constant("toWorker" as const), pick: fc.nat(50) }),
      fc.record({ kind: fc.constant("settle" as const) }),
      fc.record({ kind: fc.constant("dropWorker" as const), worker: fc.nat(2) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 120 }), async (ops) => {
        const MAX = 3;
        const QUEUE = 2;
        const c = cluster(3, MAX, QUEUE);
        const dead = new Set<number>();
        const held: Array<{ worker: number; request: AdmittedRequest }> = [];
        const aborts: AbortController[] = [];
        let peak = 0;
        for (const o of ops) {
          if (o.kind === "acquire" && !dead.has(o.worker)) {
            const ctl = new AbortController();
            aborts.push(ctl);
            c.remotes[o.worker]?.acquire(ctl.signal).then(
              (request) => {
                if (o.leaveAfter) request.release();
                else held.push({ worker: o.worker, request });
              },
              () => {},
            );
            if (o.leaveAfter && o.worker === 0) ctl.abort(new Error("left"));
          } else if (o.kind === "release" && held.length) {
            const [h] = held.splice(o.pick % held.length, 1);
            h?.request.release();
          } else if (o.kind === "toPrimary" && c.toPrimary.length) {
            const item = c.toPrimary[o.pick % c.toPrimary.length];
            if (item && dead.has(item.worker)) c.toPrimary.splice(o.pick % c.toPrimary.length, 1);
            else c.deliverToPrimary(o.pick % c.toPrimary.length);
          } else if (o.kind === "toWorker" && c.toWorker.length) {
            c.deliverToWorker(o.pick % c.toWorker.length);
          } else if (o.kind === "settle") {
            await settle();
          } else if (o.kind === "dropWorker" && !dead.has(o.worker)) {
            dead.add(o.worker);
            c.host.dropWorker(o.worker);
          }
          peak = Math.max(peak, c.supervisor.inFlight);
          expect(c.supervisor.inFlight).toBeLessThanOrEqual(MAX + QUEUE);
          expect(c.admission.inFlight).toBeLessThanOrEqual(MAX + QUEUE);
        }
        // Drain: every live request ends, every message is delivered; nothing may stay held.
        for (let round = 0; round < 20; round++) {
          await settle();
          for (const h of held.splice(0)) h.request.release();
          while (c.toPrimary.length) {
            const item = c.toPrimary[0];
            if (item && dead.has(item.worker)) c.toPrimary.shift();
            else c.deliverToPrimary(0);
          }
          while (c.toWorker.length) {
            const item = c.toWorker[0];
            if (item && dead.has(item.worker)) c.toWorker.shift();
            else c.deliverToWorker(0);
          }
        }
        expect(c.supervisor.inFlight).toBe(0);
        expect(c.admission.inFlight).toBe(0);
        expect(peak).toBeLessThanOrEqual(MAX + QUEUE);
      }),
      { numRuns: 150 },
    );
  });
});
