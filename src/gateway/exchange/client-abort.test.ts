import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { describeAbortReason, onResponseGone, onSignalAbort } from "./client-abort.js";

function fakeResponse(state: { closed: boolean; writableFinished: boolean }) {
  return Object.assign(new EventEmitter(), state);
}

describe("client-abort", () => {
  it("onSignalAbort fires once with the reason, at once when already aborted, and not after unlink", () => {
    const seen: unknown[] = [];
    const c = new AbortController();
    onSignalAbort(c.signal, (r) => seen.push(r));
    c.abort("bye");
    expect(seen).toEqual(["bye"]);

    onSignalAbort(AbortSignal.abort("early"), (r) => seen.push(r));
    expect(seen).toEqual(["bye", "early"]);

    const d = new AbortController();
    onSignalAbort(d.signal, (r) => seen.push(r))();
    d.abort("late");
    expect(seen).toHaveLength(2);
  });

  it("onResponseGone: a close before the response finished is the client going; after it, not", () => {
    let gone = 0;
    const early = fakeResponse({ closed: false, writableFinished: false });
    onResponseGone(early as unknown as ServerResponse, () => gone++);
    early.emit("close");
    const done = fakeResponse({ closed: false, writableFinished: true });
    onResponseGone(done as unknown as ServerResponse, () => gone++);
    done.emit("close");
    onResponseGone(
      fakeResponse({ closed: true, writableFinished: false }) as unknown as ServerResponse,
      () => gone++,
    );
    expect(gone).toBe(2);
    const unlinked = fakeResponse({ closed: false, writableFinished: false });
    onResponseGone(unlinked as unknown as ServerResponse, () => gone++)();
    unlinked.emit("close");
    expect(gone).toBe(2);
  });

  it("describeAbortReason words errors, strings and nothing", () => {
    expect(describeAbortReason(new Error("x"))).toBe("x");
    expect(describeAbortReason("y")).toBe("y");
    expect(describeAbortReason(undefined)).toBe("aborted");
    expect(describeAbortReason(3)).toBe("3");
  });
});
