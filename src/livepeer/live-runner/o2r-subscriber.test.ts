// The o2r reader over real HTTP against the fake orchestrator's trickle channel (test/helpers/fake-orchestrator.ts,
// after go-livepeer trickle/trickle_server.go): events in order, a gap answered with 470, the channel's end.
import { afterEach, describe, expect, it } from "vitest";
import { FakeOrchestrator } from "../../../test/helpers/fake-orchestrator.js";
import { silentLogger } from "../../log/logger.js";
import { O2rSubscriber } from "./o2r-subscriber.js";
import { type OrchestratorHttp, undiciOrchestratorHttp } from "./orchestrator-client.js";
import { systemTimers } from "./timers.js";

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function registered(): Promise<{
  o: FakeOrchestrator;
  id: string;
  url: string;
  http: OrchestratorHttp;
}> {
  const o = await new FakeOrchestrator({ secret: "s", keepAliveMs: 200 }).start();
  cleanup.push(() => o.stop());
  const http = undiciOrchestratorHttp({ tlsInsecure: false });
  cleanup.push(() => http.close());
  const reply = await http.post(
    `${o.url}/runners/heartbeat`,
    { runner_url: "http://127.0.0.1:1", app: "a", status: "ready", mode: "single-shot", capacity: 4 },
    "s",
  );
  if (reply.kind !== "ok") throw new Error(JSON.stringify(reply));
  const body = reply.body as { runner_id: string; o2r: { url: string } };
  return { o, id: body.runner_id, url: body.o2r.url, http };
}

function events() {
  const seen: string[] = [];
  let wake: () => void = () => {};
  const until = (n: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`saw only ${JSON.stringify(seen)}`)), 5_000);
      wake = () => {
        if (seen.length >= n) {
          clearTimeout(timer);
          resolve();
        }
      };
      wake();
    });
  const push = (e: string) => {
    seen.push(e);
    wake();
  };
  return {
    seen,
    until,
    handlers: {
      reserved: (id: string) => push(`reserved ${id}`),
      released: (id: string) => push(`released ${id}`),
      gap: (why: string) => push(`gap ${why}`),
      closed: (why: string) => push(`closed ${why}`),
    },
  };
}

describe("O2rSubscriber", () => {
  it("delivers reserved and released in order, skipping keep-alives", async () => {
    const { o, id, url, http } = await registered();
    const e = events();
    const sub = new O2rSubscriber(url, http, e.handlers, systemTimers, silentLogger());
    cleanup.push(() => sub.stop());
    sub.start();
    await new Promise((r) => setTimeout(r, 500)); // keep-alives go by
    const a = o.reserve(id).sessionId as string;
    const b = o.reserve(id).sessionId as string;
    o.release(id, a);
    await e.until(3);
    expect(e.seen).toEqual([`reserved ${a}`, `reserved ${b}`, `released ${a}`]);
    expect(sub.state).toBe("connected");
  });

  it("a segment that is gone (470) jumps to the latest and reports the gap", async () => {
    const { o, id, url, http } = await registered();
    // Eight messages before the reader starts: the channel keeps five, so segment 0 is gone.
    for (let i = 0; i < 4; i++) o.release(id, o.reserve(id).sessionId as string);
    const e = events();
    const sub = new O2rSubscriber(url, http, e.handlers, systemTimers, silentLogger());
    cleanup.push(() => sub.stop());
    sub.start();
    await e.until(1);
    expect(e.seen[0]).toBe("gap o2r segment 0 is gone");
    const next = o.reserve(id).sessionId as string;
    await e.until(2);
    expect(e.seen.filter((s) => s.startsWith("reserved"))).toEqual([`reserved ${next}`]);
  });

  it("says when the channel ends (the registration was dropped)", async () => {
    const { o, url, http } = await registered();
    const e = events();
    const sub = new O2rSubscriber(url, http, e.handlers, systemTimers, silentLogger());
    cleanup.push(() => sub.stop());
    sub.start();
    await new Promise((r) => setTimeout(r, 100));
    await o.restart();
    await e.until(1);
    expect(e.seen.some((s) => s.startsWith("closed") || s.startsWith("gap"))).toBe(true);
    await e.until(2).catch(() => {});
    expect(e.seen.some((s) => s === "closed the o2r channel no longer exists")).toBe(true);
    expect(sub.state).toBe("closed");
  });
});
