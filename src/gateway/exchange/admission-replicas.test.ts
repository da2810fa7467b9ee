import { describe, expect, it } from "vitest";
import type { RequestTicket, SupervisorSnapshot, SupervisorView } from "../../supervisor/types.js";
import { Admission } from "./admission.js";

/** A set of `ready` engines, all admitting. */
function engines(ready: { n: number }): SupervisorView {
  const snapshot = {
    state: ready.n > 0 ? "ready" : "loading",
    lastError: null,
    progress: null,
  } as SupervisorSnapshot;
  return {
    snapshot: () => snapshot,
    admit: (): RequestTicket => ({
      endpoint: { baseUrl: "http://127.0.0.1:1", apiKey: "k", generation: 1 },
      signal: new AbortController().signal,
      progress() {},
      end() {},
    }),
    engineEndpoint: () => null,
    on: () => () => {},
    readySlots: () => ready.n * 4,
  };
}

describe("admission capacity with replicas", () => {
  it("is Σ MAX_NUM_SEQS of the ready engines + QUEUE_SIZE, and follows them as they come and go", () => {
    const ready = { n: 3 };
    const admission = new Admission(engines(ready), 4, 2);
    expect(admission.capacity).toBe(14);
    const held = Array.from({ length: 14 }, () => admission.admit());
    expect(() => admission.admit()).toThrow(/at capacity: 14/);
    expect(admission.queueDepth).toBe(2);
    ready.n = 2; // one replica restarting: its slots are gone until it is back
    expect(admission.capacity).toBe(10);
    expect(() => admission.admit()).toThrow(/at capacity: 10/);
    for (const h of held) h.release();
    expect(admission.admit().ticket.endpoint.generation).toBe(1);
  });
});
