import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PendingReplies } from "./pending-replies.js";

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("PendingReplies", () => {
  it("settles each request with the reply of its own id, once", async () => {
    const replies = new PendingReplies<string>();
    const sent: number[] = [];
    const a = replies.ask((id) => sent.push(id));
    const b = replies.ask((id) => sent.push(id));
    expect(sent).toEqual([1, 2]);
    expect(replies.reply(2, "two")).toBe(true);
    expect(replies.reply(1, "one")).toBe(true);
    expect(replies.reply(1, "again")).toBe(false);
    await expect(Promise.all([a, b])).resolves.toEqual(["one", "two"]);
  });

  it("settles with onTimeout() when no reply comes in time; a late reply finds nothing", async () => {
    const replies = new PendingReplies<string>();
    const asked = replies.ask(() => {}, { timeoutMs: 100, onTimeout: () => "own" });
    vi.advanceTimersByTime(100);
    await expect(asked).resolves.toBe("own");
    expect(replies.reply(1, "late")).toBe(false);
  });

  it("an abort withdraws the request: the other side is told, the ask rejects with the reason", async () => {
    const replies = new PendingReplies<string>();
    const withdrawn: number[] = [];
    const controller = new AbortController();
    const asked = replies.ask(() => {}, { signal: controller.signal, onAbort: (id) => withdrawn.push(id) });
    controller.abort(new Error("client left"));
    await expect(asked).rejects.toThrow("client left");
    expect(withdrawn).toEqual([1]);
    expect(replies.has(1)).toBe(false);
    // Already aborted: nothing is sent.
    const send = vi.fn();
    await expect(replies.ask(send, { signal: controller.signal })).rejects.toThrow("client left");
    expect(send).not.toHaveBeenCalled();
  });

  it("fails one request, or every request still waiting, and settles what a gone owner owed", async () => {
    const replies = new PendingReplies<string | null>();
    const one = replies.ask(() => {});
    replies.fail(1, new Error("refused"));
    await expect(one).rejects.toThrow("refused");

    const ofWorker = replies.ask(() => {}, { owner: 7 });
    const ofOther = replies.ask(() => {}, { owner: 8 });
    replies.settleOwner(7, null);
    await expect(ofWorker).resolves.toBeNull();
    expect(replies.has(3)).toBe(true);
    replies.failAll(new Error("gone"));
    await expect(ofOther).rejects.toThrow("gone");
  });
});
