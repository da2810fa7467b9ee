import { describe, expect, it } from "vitest";
import { FakeClock } from "./clock.js";
import { RequestTickets } from "./request-tickets.js";
import type { EngineEndpoint } from "./types.js";

const ENDPOINT: EngineEndpoint = { baseUrl: "http://127.0.0.1:1", apiKey: "k", generation: 1 };

function setup() {
  const clock = new FakeClock();
  return { clock, tickets: new RequestTickets(clock) };
}

describe("RequestTickets: what the hang watchdog waits on", () => {
  it("counts the time since the last engine byte while a request is in flight", async () => {
    const { clock, tickets } = setup();
    expect(tickets.stalledFor()).toBeNull();
    const a = tickets.issue(ENDPOINT);
    await clock.advance(2_000);
    expect(tickets.stalledFor()).toBe(2_000);
    a.progress();
    expect(tickets.stalledFor()).toBe(0);
    a.end();
    expect(tickets.stalledFor()).toBeNull();
  });

  it("a request held by its client's backpressure is owed nothing by the engine", async () => {
    const { clock, tickets } = setup();
    const a = tickets.issue(ENDPOINT);
    a.backpressure?.(true);
    await clock.advance(60_000);
    expect(tickets.stalledFor()).toBeNull();
    expect(tickets.awaited()).toBe(0);
    expect(tickets.size).toBe(1);
  });

  it("a held request does not hide an engine that stopped for the others", async () => {
    const { clock, tickets } = setup();
    const held = tickets.issue(ENDPOINT);
    const waiting = tickets.issue(ENDPOINT);
    held.backpressure?.(true);
    await clock.advance(5_000);
    expect(tickets.stalledFor()).toBe(5_000);
    expect(tickets.awaited()).toBe(1);
    waiting.end();
    expect(tickets.stalledFor()).toBeNull();
  });

  it("reading resumed after a hold starts the stall clock then, when nothing else was awaited", async () => {
    const { clock, tickets } = setup();
    const a = tickets.issue(ENDPOINT);
    a.backpressure?.(true);
    await clock.advance(30_000);
    a.backpressure?.(false);
    expect(tickets.stalledFor()).toBe(0);
    await clock.advance(1_000);
    expect(tickets.stalledFor()).toBe(1_000);
  });

  it("a resumed request does not restart the clock of another request still waiting on the engine", async () => {
    const { clock, tickets } = setup();
    const a = tickets.issue(ENDPOINT);
    tickets.issue(ENDPOINT);
    a.backpressure?.(true);
    await clock.advance(3_000);
    a.backpressure?.(false);
    expect(tickets.stalledFor()).toBe(3_000);
  });

  it("a new request while every other is held starts the stall clock at its arrival", async () => {
    const { clock, tickets } = setup();
    const a = tickets.issue(ENDPOINT);
    a.progress();
    a.backpressure?.(true);
    await clock.advance(30_000);
    tickets.issue(ENDPOINT);
    expect(tickets.stalledFor()).toBe(0);
  });

  it("a held request that ends (or is aborted) no longer counts as held; repeated and late calls change nothing", async () => {
    const { clock, tickets } = setup();
    const a = tickets.issue(ENDPOINT);
    const b = tickets.issue(ENDPOINT);
    a.backpressure?.(true);
    a.backpressure?.(true);
    a.end();
    a.backpressure?.(false);
    expect(tickets.awaited()).toBe(1);
    b.backpressure?.(true);
    tickets.abortAll("engine died");
    b.backpressure?.(false);
    expect(tickets.awaited()).toBe(0);
    expect(tickets.size).toBe(0);
    tickets.issue(ENDPOINT);
    await clock.advance(1_000);
    expect(tickets.stalledFor()).toBe(1_000);
  });
});
