import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../log/logger.js";
import { createGatewayMetrics } from "../../metrics/gateway-metrics.js";
import type { Ledger, LedgerRow } from "../../pricing/ledger-types.js";
import { Exchange } from "./exchange.js";

function setup(opts: { route?: string; failWrite?: boolean } = {}, metrics = createGatewayMetrics()) {
  const rows: LedgerRow[] = [];
  const ledger: Ledger = {
    record: (row) => {
      if (opts.failWrite) throw new Error("disk full");
      rows.push(row);
    },
    summary: () => [],
    close: () => {},
  };
  let now = 1_000;
  const done: Exchange[] = [];
  const ex = new Exchange(
    {
      ledger,
      metrics,
      logger: silentLogger(),
      clock: () => now,
      rate: { pricePerUnit: 2, pixelsPerUnit: 1_000, currency: "USD" },
      model: "m",
    },
    { route: opts.route ?? "/v1/chat/completions", stream: true, maxTokens: 100 },
    (e) => done.push(e),
  );
  return { ex, rows, done, tick: (ms: number) => (now += ms) };
}

describe("Exchange", () => {
  it("counts the replica router's decision once its request is admitted", async () => {
    const metrics = createGatewayMetrics({ router: "prefix" });
    const t = setup({}, metrics);
    const route = {
      policy: "prefix",
      reason: "prefix_hit",
      replica: 2,
      matchedBlocks: 9,
      totalBlocks: 10,
    } as const;
    const ticket = {
      route,
      endpoint: { baseUrl: "http://127.0.0.1:1", apiKey: "k", generation: 1, replica: 2 },
      signal: new AbortController().signal,
      progress: () => {},
      end: () => {},
    };
    t.ex.attach({ ticket, release: () => {} });
    expect(await metrics.render()).toContain(
      'llm_runner_route_decisions_total{policy="prefix",reason="prefix_hit"} 1',
    );
  });

  it("quotes max_tokens at arrival and bills the tokens served, once", () => {
    const t = setup();
    expect(t.ex.quote).toBeCloseTo(0.2);
    t.ex.tokens(1);
    t.tick(40);
    t.ex.tokens(9);
    t.ex.finish({ status: "ok", httpStatus: 200, promptTokens: 5, completionTokens: 10 });
    t.ex.finish({ status: "engine_error", httpStatus: 500 });
    expect(t.rows).toHaveLength(1);
    expect(t.rows[0]).toMatchObject({
      status: "ok",
      completionTokens: 10,
      promptTokens: 5,
      ttftMs: 0,
      durationMs: 40,
    });
    expect(t.rows[0]?.usagePrice).toBeCloseTo(0.02);
    expect(t.done).toEqual([t.ex]);
    expect(t.ex.recorded).toBe(true);
  });

  it("the first abort cause wins and aborts the upstream signal with its reason", () => {
    const t = setup();
    t.ex.abort("client", "gone");
    t.ex.abort("engine", new Error("died"));
    expect(t.ex.abortCause).toBe("client");
    expect(t.ex.upstreamAbort.signal.aborted).toBe(true);
    expect(String(t.ex.upstreamAbort.signal.reason)).toContain("request aborted (client): gone");
  });

  it("a client signal, or a response closed before it finished, aborts as 'client'", () => {
    const a = setup();
    const client = new AbortController();
    a.ex.watchClient(client.signal);
    client.abort(new Error("socket hang up"));
    expect([a.ex.abortCause, a.ex.abortReason]).toEqual(["client", "socket hang up"]);

    const b = setup();
    const res = Object.assign(new EventEmitter(), { closed: false, writableFinished: false });
    b.ex.watchResponse(res as unknown as ServerResponse);
    res.emit("close");
    expect(b.ex.abortCause).toBe("client");
  });

  it("after finish, the links are undone: a late abort changes nothing", () => {
    const t = setup();
    const client = new AbortController();
    t.ex.watchClient(client.signal);
    t.ex.finish({ status: "ok", httpStatus: 200, completionTokens: 0 });
    client.abort();
    expect(t.ex.abortCause).toBeNull();
    expect(t.ex.upstreamAbort.signal.aborted).toBe(false);
  });

  it("/llm rows record the status go-livepeer was sent; a failed write leaves recorded false", () => {
    const t = setup({ route: "/llm" });
    t.ex.finish({ status: "rejected", httpStatus: 429 });
    expect(t.rows[0]).toMatchObject({ httpStatus: 500, usagePrice: 0 });
    const f = setup({ failWrite: true });
    f.ex.finish({ status: "ok", httpStatus: 200, completionTokens: 1 });
    expect(f.ex.recorded).toBe(false);
    expect(f.done).toHaveLength(1);
  });
});
