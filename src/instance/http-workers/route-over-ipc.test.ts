// GATEWAY_WORKERS > 1: the router decides in the primary, where the slots are. What crosses the channel per request
// is the affinity key and the prompt's block chain as base64; the decision comes back with the grant.
import { describe, expect, it } from "vitest";
import type { EngineDriver } from "../../engine/engine-driver.js";
import { Admission, type AdmittedRequest } from "../../gateway/exchange/admission.js";
import { BlockHasher, MAX_BLOCKS } from "../../gateway/routing/prefix-blocks.js";
import { createLogger } from "../../log/logger.js";
import { ReplicaSet } from "../../supervisor/replica-set.js";
import { FakeReplica } from "../../supervisor/testing/fake-replica.js";
import { AdmissionHost, slotRequests } from "./admission-host.js";
import { dispatch, hintFromWire, hintToWire, type SlotReply, type SlotRequest } from "./messages.js";
import { RemoteAdmission, slotReplies } from "./remote-admission.js";

const driver: EngineDriver = {
  kind: "process",
  start: () => Promise.reject(new Error("not used")),
  removeOrphans: async () => [],
};

/** Two workers, a primary over three fake replicas; every message goes through JSON, as over the IPC pipe. */
function cluster() {
  const fakes = [0, 1, 2].map((i) => new FakeReplica(i));
  const replicas = new ReplicaSet(
    fakes.map((f) => ({ index: f.index, gpuIds: [f.index], maxNumSeqs: 4, supervisor: f })),
    { driver, logger: createLogger({ level: "error" }) },
  );
  const admission = new Admission(replicas, 4, 8);
  const sent: SlotRequest[] = [];
  const remotes: RemoteAdmission[] = [];
  const host = new AdmissionHost(admission, (worker, message: SlotReply) =>
    dispatch(slotReplies(remotes[worker] as RemoteAdmission), JSON.parse(JSON.stringify(message))),
  );
  for (const worker of [0, 1]) {
    remotes.push(
      new RemoteAdmission(
        () => ({ inFlight: 0, queueDepth: 0, capacity: 20 }),
        (message) => {
          sent.push(message);
          dispatch(slotRequests(host, worker), JSON.parse(JSON.stringify(message)));
        },
      ),
    );
  }
  return { remotes, sent };
}

const chainOf = (text: string) => {
  const h = new BlockHasher();
  h.text(text);
  return h.blocks();
};

describe("the route hint over IPC", () => {
  it("a chain survives the base64 round trip; anything that is not whole int32s is dropped", () => {
    const blocks = chainOf("x".repeat(64 * 40));
    expect([...(hintFromWire(hintToWire({ affinity: "k", blocks })).blocks ?? [])]).toEqual([...blocks]);
    expect(hintFromWire({ blocks: "AAE=" }).blocks).toBeUndefined();
    expect(hintFromWire({ key: "k" })).toEqual({ affinity: "k" });
  });

  it("a 4k-token prompt's chain costs 1,368 characters on the channel", () => {
    const blocks = chainOf("y".repeat(64 * 400));
    expect(blocks).toHaveLength(MAX_BLOCKS);
    expect(hintToWire({ blocks }).blocks).toHaveLength(1368);
  });

  it("requests of one tenant from two workers meet on one replica; the decision comes back with the grant", async () => {
    const { remotes, sent } = cluster();
    const tenant = chainOf(`${"system prompt ".repeat(60)}`);
    const a = (await remotes[0]?.acquire(undefined, { blocks: tenant })) as AdmittedRequest;
    a.release();
    const other = (await remotes[1]?.acquire(undefined, {
      blocks: chainOf("z".repeat(900)),
    })) as AdmittedRequest;
    const b = (await remotes[1]?.acquire(undefined, { blocks: tenant })) as AdmittedRequest;
    expect(b.ticket.endpoint.replica).toBe(a.ticket.endpoint.replica);
    expect(other.ticket.endpoint.replica).not.toBe(a.ticket.endpoint.replica);
    expect(b.ticket.route).toMatchObject({
      policy: "prefix",
      reason: "prefix_hit",
      matchedBlocks: tenant.length,
    });
    expect(sent[0]).toMatchObject({ type: "slot-request" });
    expect(typeof (sent[0] as { blocks?: unknown }).blocks).toBe("string");
  });
});
