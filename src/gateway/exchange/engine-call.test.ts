import { EventEmitter } from "node:events";
import type { Context } from "hono";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../log/logger.js";
import { createGatewayMetrics } from "../../metrics/gateway-metrics.js";
import type { Ledger, LedgerRow } from "../../pricing/ledger-types.js";
import type { EngineEndpoint } from "../../supervisor/types.js";
import { errors, GatewayError } from "../http/gateway-error.js";
import { type FakeReply, FakeUpstream } from "../testing/fake-upstream.js";
import { StaticSupervisor } from "../testing/static-supervisor.js";
import { Admission } from "./admission.js";
import type { BodyPlan } from "./context-fit.js";
import { callEngine, type EngineAccess, type EngineRefusal, failExchange, isRefusal } from "./engine-call.js";
import { Exchange } from "./exchange.js";
import type { UpstreamClient, UpstreamRequest, UpstreamResponse } from "./upstream-client.js";

const ENDPOINT: EngineEndpoint = { baseUrl: "http://127.0.0.1:1", apiKey: "engine-key", generation: 3 };

/** An engine that never answers: the request waits for headers until its signal aborts (as undici's does). */
class HeldUpstream implements UpstreamClient {
  readonly requests: UpstreamRequest[] = [];
  /** The abort reasons this engine saw, one per torn-down request. */
  readonly aborts: unknown[] = [];

  send(request: UpstreamRequest): Promise<UpstreamResponse> {
    this.requests.push(request);
    return new Promise((_, reject) => {
      const fail = () => {
        this.aborts.push(request.signal.reason);
        reject(request.signal.reason);
      };
      if (request.signal.aborted) fail();
      else request.signal.addEventListener("abort", fail, { once: true });
    });
  }

  async close(): Promise<void> {}
}

/**
 * callEngine's parts, real where they are small (Exchange, Admission over a StaticSupervisor), an in-memory
 * ledger, and a Hono context reduced to what callEngine reads: the web request's signal, or Node bindings.
 */
function setup(
  opts: {
    reply?: (r: UpstreamRequest) => FakeReply | Error;
    upstream?: UpstreamClient;
    maxNumSeqs?: number;
    queueSize?: number;
    node?: boolean;
  } = {},
) {
  const rows: LedgerRow[] = [];
  const ledger: Ledger = { record: (row) => rows.push(row), summary: () => [], close: () => {} };
  const supervisor = new StaticSupervisor(ENDPOINT);
  const admission = new Admission(supervisor, opts.maxNumSeqs ?? 2, opts.queueSize ?? 2);
  const fake = new FakeUpstream(opts.reply ?? (() => ({ status: 200, body: ["data: [DONE]\n\n"] })));
  const upstream = opts.upstream ?? fake;
  const deps: EngineAccess = { admission, upstream };
  const ex = new Exchange(
    {
      ledger,
      metrics: createGatewayMetrics(),
      logger: silentLogger(),
      clock: () => 1_000,
      rate: { pricePerUnit: 1, pixelsPerUnit: 1_000, currency: "USD" },
      model: "test-model",
    },
    { route: "/v1/chat/completions", stream: true, maxTokens: 16 },
    () => {},
  );
  const client = new AbortController();
  // The Node response: closing before it finished is the client going away (client-abort.ts).
  const outgoing = Object.assign(new EventEmitter(), {
    closed: false,
    writableFinished: false,
    writeHead: () => {},
  });
  const c = (opts.node
    ? {
        env: { incoming: { rawHeaders: [] }, outgoing },
        req: { raw: { signal: client.signal }, header: () => undefined },
      }
    : {
        env: undefined,
        req: { raw: { signal: client.signal }, header: () => undefined },
      }) as unknown as Context;
  const call = (body: string | BodyPlan = '{"q":1}', path?: string) => callEngine(c, ex, deps, body, path);
  return { rows, supervisor, admission, fake, deps, ex, client, outgoing, call };
}

/** A BodyPlan that records what it is asked and answers from the scripts. */
function plan(first: string, again: string | null | (() => Promise<string | null>)) {
  const calls: Array<{ step: "first" | "afterRefusal"; endpoint: EngineEndpoint; signal: AbortSignal }> = [];
  const p: BodyPlan = {
    async first(endpoint, signal) {
      calls.push({ step: "first", endpoint, signal });
      return first;
    },
    async afterRefusal(endpoint, signal) {
      calls.push({ step: "afterRefusal", endpoint, signal });
      return typeof again === "function" ? again() : again;
    },
  };
  return { plan: p, calls };
}

const engineError = (status: number, message: string): FakeReply => ({
  status,
  contentType: "application/json",
  body: [JSON.stringify({ object: "error", message, type: "BadRequestError", code: status })],
});

async function rejection(p: Promise<unknown>): Promise<GatewayError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  return err as GatewayError;
}

describe("callEngine: admission", () => {
  it("over capacity: a 429 queue_full, a 'rejected' row, and the engine never called", async () => {
    const t = setup({ maxNumSeqs: 1, queueSize: 0 });
    const holder = t.admission.admit(); // the one slot
    const err = await rejection(t.call());
    expect([err.status, err.code]).toEqual([429, "queue_full"]);
    expect(t.rows).toHaveLength(1);
    expect(t.rows[0]).toMatchObject({ status: "rejected", httpStatus: 429, usagePrice: 0 });
    expect(t.rows[0]?.error).toBe(err.message);
    expect(t.fake.requests).toHaveLength(0);
    expect(t.ex.finished).toBe(true);
    expect(t.admission.inFlight).toBe(1); // only the holder: the refused request took no slot
    holder.release();
  });

  it("engine not ready: a 503 not_ready with Retry-After, a 'rejected' row, and the engine never called", async () => {
    const t = setup();
    t.supervisor.setState("loading");
    const err = await rejection(t.call());
    expect([err.status, err.code, err.retryAfter]).toEqual([503, "not_ready", 5]);
    expect(t.rows).toEqual([expect.objectContaining({ status: "rejected", httpStatus: 503 })]);
    expect(t.fake.requests).toHaveLength(0);
    expect(t.supervisor.issued).toBe(0);
  });
});

describe("callEngine: the engine's answer", () => {
  it("a 200 is returned as it is, the exchange still open and holding its slot", async () => {
    const t = setup();
    const answer = await t.call('{"messages":[]}', "/v1/completions");
    expect(isRefusal(answer)).toBe(false);
    const res = answer as UpstreamResponse;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("data: [DONE]\n\n");
    expect(t.ex.finished).toBe(false);
    expect(t.rows).toHaveLength(0);
    expect(t.admission.inFlight).toBe(1);
    expect(t.supervisor.inFlight).toBe(1);
    expect(t.supervisor.progressCalls).toBe(1);
    // Sent to the ticket's engine, on the given path, with the exchange's id and its upstream abort signal.
    expect(t.fake.requests).toHaveLength(1);
    expect(t.fake.requests[0]).toMatchObject({
      endpoint: ENDPOINT,
      method: "POST",
      path: "/v1/completions",
      body: '{"messages":[]}',
      requestId: t.ex.id,
    });
    expect(t.fake.requests[0]?.signal).toBe(t.ex.upstreamAbort.signal);
  });

  it("the path defaults to /v1/chat/completions", async () => {
    const t = setup();
    await t.call();
    expect(t.fake.requests[0]?.path).toBe("/v1/chat/completions");
  });

  it("an engine 4xx is passed on: the engine's status and body, a 'rejected' row, the slot freed", async () => {
    const t = setup({ reply: () => engineError(400, "This model's maximum context length is 8192 tokens.") });
    const answer = await t.call();
    expect(isRefusal(answer)).toBe(true);
    const refusal = answer as EngineRefusal;
    expect(refusal).toEqual({
      refused: true,
      status: 400,
      engineStatus: 400,
      body: JSON.stringify({
        object: "error",
        message: "This model's maximum context length is 8192 tokens.",
        type: "BadRequestError",
        code: 400,
      }),
      message: "This model's maximum context length is 8192 tokens.",
    });
    expect(t.rows).toEqual([
      expect.objectContaining({
        status: "rejected",
        httpStatus: 400,
        error: "engine HTTP 400: This model's maximum context length is 8192 tokens.",
      }),
    ]);
    expect(t.ex.finished).toBe(true);
    expect(t.admission.inFlight).toBe(0);
    expect(t.supervisor.inFlight).toBe(0);
  });

  it("an engine 404 or 422 keeps its own status too", async () => {
    for (const status of [404, 422]) {
      const t = setup({ reply: () => engineError(status, "nope") });
      const refusal = (await t.call()) as EngineRefusal;
      expect([refusal.status, refusal.engineStatus]).toEqual([status, status]);
      expect(t.rows[0]).toMatchObject({ status: "rejected", httpStatus: status });
    }
  });

  it("401/403/407 from the engine (our own key refused) become a 502 engine_error", async () => {
    for (const status of [401, 403, 407]) {
      const t = setup({ reply: () => engineError(status, "invalid API key") });
      const refusal = (await t.call()) as EngineRefusal;
      expect(refusal).toMatchObject({
        refused: true,
        status: 502,
        engineStatus: status,
        message: "invalid API key",
      });
      expect(t.rows).toEqual([
        expect.objectContaining({
          status: "engine_error",
          httpStatus: 502,
          error: `engine HTTP ${status}: invalid API key`,
        }),
      ]);
    }
  });

  it("an engine 5xx is a 502 refusal and an engine_error row", async () => {
    const t = setup({ reply: () => engineError(500, "CUDA error: an illegal memory access") });
    const refusal = (await t.call()) as EngineRefusal;
    expect(refusal).toMatchObject({ refused: true, status: 502, engineStatus: 500 });
    expect(refusal.message).toBe("CUDA error: an illegal memory access");
    expect(t.rows).toEqual([expect.objectContaining({ status: "engine_error", httpStatus: 502 })]);
    expect(t.ex.outcome).toBe("engine_error");
    expect(t.admission.inFlight).toBe(0);
  });

  it("an error body that cannot be read still gives a refusal on the status alone", async () => {
    const t = setup({ reply: () => ({ status: 503, body: [{ fail: "connection reset" }] }) });
    const refusal = (await t.call()) as EngineRefusal;
    expect(refusal).toMatchObject({ status: 502, engineStatus: 503, body: "", message: "(empty body)" });
    expect(t.rows[0]).toMatchObject({ status: "engine_error", error: "engine HTTP 503: (empty body)" });
  });

  it("the engine unreachable: a 502 engine_unreachable thrown, an engine_error row written", async () => {
    const t = setup({ reply: () => new Error("connect ECONNREFUSED 127.0.0.1:1") });
    const err = await rejection(t.call());
    expect([err.status, err.code]).toEqual([502, "engine_unreachable"]);
    expect(err.message).toContain("connect ECONNREFUSED 127.0.0.1:1");
    expect(t.rows).toEqual([
      expect.objectContaining({
        status: "engine_error",
        httpStatus: 502,
        error: "the connection to the engine failed: connect ECONNREFUSED 127.0.0.1:1",
      }),
    ]);
    expect(t.admission.inFlight).toBe(0);
    expect(t.supervisor.inFlight).toBe(0);
  });

  it("the engine dying while the call waits: the ticket's signal aborts it, a 502 and an engine_error row", async () => {
    const held = new HeldUpstream();
    const t = setup({ upstream: held });
    const pending = t.call();
    await new Promise((r) => setImmediate(r)); // admitted and sent
    t.supervisor.killInFlight("engine exited with code 137");
    const err = await rejection(pending);
    expect(err.status).toBe(502);
    expect(held.aborts).toHaveLength(1);
    expect(t.rows).toEqual([
      expect.objectContaining({
        status: "engine_error",
        error: "the engine stopped during the request (engine exited with code 137)",
      }),
    ]);
  });
});

describe("callEngine: a BodyPlan", () => {
  it("is asked for the first body with the ticket's engine and the upstream signal", async () => {
    const t = setup();
    const p = plan("FIRST", "AGAIN");
    await t.call(p.plan);
    expect(t.fake.requests.map((r) => r.body)).toEqual(["FIRST"]);
    expect(p.calls).toEqual([{ step: "first", endpoint: ENDPOINT, signal: t.ex.upstreamAbort.signal }]);
  });

  it("after an engine 400, sends the plan's second body once and returns its answer", async () => {
    const t = setup({
      reply: (r) => (r.body === "FIRST" ? engineError(400, "too long") : { status: 200, body: ["ok"] }),
    });
    const p = plan("FIRST", "AGAIN");
    const answer = await t.call(p.plan);
    expect(isRefusal(answer)).toBe(false);
    expect(await (answer as UpstreamResponse).text()).toBe("ok");
    expect(t.fake.requests.map((r) => r.body)).toEqual(["FIRST", "AGAIN"]);
    expect(p.calls.map((c) => c.step)).toEqual(["first", "afterRefusal"]);
    expect(t.ex.finished).toBe(false);
  });

  it("resends at most once: a second 400 is the refusal, with the second answer's body", async () => {
    const t = setup({
      reply: (r) => engineError(400, r.body === "FIRST" ? "first refusal" : "second refusal"),
    });
    const p = plan("FIRST", "AGAIN");
    const refusal = (await t.call(p.plan)) as EngineRefusal;
    expect(t.fake.requests.map((r) => r.body)).toEqual(["FIRST", "AGAIN"]);
    expect(p.calls.map((c) => c.step)).toEqual(["first", "afterRefusal"]);
    expect(refusal).toMatchObject({ refused: true, status: 400, message: "second refusal" });
    expect(t.rows).toEqual([expect.objectContaining({ status: "rejected", httpStatus: 400 })]);
  });

  it("when the plan has nothing else to send, the first 400 stands, its body intact", async () => {
    const t = setup({ reply: () => engineError(400, "bad parameter: temperature") });
    const p = plan("FIRST", null);
    const refusal = (await t.call(p.plan)) as EngineRefusal;
    expect(t.fake.requests).toHaveLength(1);
    expect(refusal).toMatchObject({ status: 400, message: "bad parameter: temperature" });
    expect(refusal.body).toContain("bad parameter: temperature");
  });

  it("only a 400 consults the plan: a 422 or a 500 is not resent", async () => {
    for (const status of [422, 500]) {
      const t = setup({ reply: () => engineError(status, "no") });
      const p = plan("FIRST", "AGAIN");
      await t.call(p.plan);
      expect(t.fake.requests.map((r) => r.body)).toEqual(["FIRST"]);
      expect(p.calls.map((c) => c.step)).toEqual(["first"]);
    }
  });

  it("a plain string body is never resent after a 400", async () => {
    const t = setup({ reply: () => engineError(400, "no") });
    await t.call("BODY");
    expect(t.fake.requests.map((r) => r.body)).toEqual(["BODY"]);
  });

  it("the plan's own 400 (a prompt that fills the context) is thrown as it is, with a 'rejected' row", async () => {
    const t = setup({ reply: () => engineError(400, "too long") });
    const own = errors.invalidBody("The prompt fills the model's context.", "messages");
    const p = plan("FIRST", () => Promise.reject(own));
    const err = await rejection(t.call(p.plan));
    expect(err).toBe(own);
    expect(t.rows).toEqual([
      expect.objectContaining({
        status: "rejected",
        httpStatus: 400,
        error: "The prompt fills the model's context.",
      }),
    ]);
    expect(t.admission.inFlight).toBe(0);
  });
});

describe("callEngine: a replica that dies under a request before it answers", () => {
  const OTHER: EngineEndpoint = { baseUrl: "http://127.0.0.1:2", apiKey: "engine-key", generation: 1 };
  /** The first engine refuses the connection (killed, its exit not seen yet); the router then picks OTHER. */
  function dying(readyEngines: number) {
    let t: ReturnType<typeof setup>;
    t = setup({
      reply: (r) => {
        if (r.endpoint.baseUrl !== ENDPOINT.baseUrl) return { status: 200, body: ["data: [DONE]\n\n"] };
        t.supervisor.endpoint = OTHER;
        return new Error("connect ECONNREFUSED 127.0.0.1:1");
      },
    });
    t.deps.supervisor = { readyEngines: () => readyEngines };
    return t;
  }

  it("with another ready replica: admitted again there, the first ticket ended, nothing written yet", async () => {
    const t = dying(2);
    const res = await t.call();
    expect(isRefusal(res)).toBe(false);
    expect(t.fake.requests.map((r) => r.endpoint.baseUrl)).toEqual([ENDPOINT.baseUrl, OTHER.baseUrl]);
    expect(t.fake.requests.map((r) => r.requestId)).toEqual([t.ex.id, t.ex.id]);
    expect(t.supervisor.issued).toBe(2);
    expect(t.supervisor.ended).toBe(1); // the failed one; the other is the stream's until it ends
    expect(t.ex.abortCause).toBeNull();
    expect(t.ex.finished).toBe(false);
    expect(t.rows).toEqual([]);
  });

  it("with one engine: a 502 and an engine_error row, as before (no second try)", async () => {
    const t = dying(1);
    const err = await rejection(t.call());
    expect(err.status).toBe(502);
    expect(t.fake.requests).toHaveLength(1);
    expect(t.rows).toHaveLength(1);
    expect(t.rows[0]?.status).toBe("engine_error");
  });

  it("tries once more only: a second failure is the 502", async () => {
    const t = setup({ reply: () => new Error("connect ECONNREFUSED") });
    t.deps.supervisor = { readyEngines: () => 3 };
    const err = await rejection(t.call());
    expect(err.status).toBe(502);
    expect(t.fake.requests).toHaveLength(2);
    expect(t.rows.map((r) => r.status)).toEqual(["engine_error"]);
  });
});

describe("callEngine: the client going away", () => {
  it("while the engine call waits: the upstream request is aborted, a 499 and a client_abort row", async () => {
    const held = new HeldUpstream();
    const t = setup({ upstream: held });
    const pending = t.call();
    await new Promise((r) => setImmediate(r)); // admitted and sent
    expect(held.requests).toHaveLength(1);
    t.client.abort(new Error("socket hang up"));
    const err = await rejection(pending);
    expect([err.status, err.code]).toEqual([499, "client_closed"]);
    expect(held.aborts).toHaveLength(1);
    expect(held.requests[0]?.signal.aborted).toBe(true);
    expect(t.rows).toEqual([
      expect.objectContaining({ status: "client_abort", httpStatus: 499, error: "client disconnected" }),
    ]);
    expect(t.admission.inFlight).toBe(0);
    expect(t.supervisor.inFlight).toBe(0);
  });

  it("under Node, the response closing before it finished does the same", async () => {
    const held = new HeldUpstream();
    const t = setup({ upstream: held, node: true });
    const pending = t.call();
    await new Promise((r) => setImmediate(r)); // admitted and sent
    t.outgoing.emit("close");
    const err = await rejection(pending);
    expect(err.status).toBe(499);
    expect(held.aborts).toHaveLength(1);
    expect(t.rows).toEqual([expect.objectContaining({ status: "client_abort", httpStatus: 499 })]);
  });

  it("after a 200 the client stays watched: going away then tears the engine's body down", async () => {
    const t = setup({ reply: () => ({ status: 200, body: ["data: a\n\n", { hang: true }] }) });
    const res = (await t.call()) as UpstreamResponse;
    expect(t.fake.aborted).toBe(0);
    t.client.abort();
    expect(t.fake.aborted).toBe(1);
    expect(t.ex.abortCause).toBe("client");
    res.discard();
  });
});

describe("failExchange", () => {
  it("a client abort ends the exchange client_abort and gives the 499 client_closed error, whatever the error", () => {
    const t = setup();
    t.ex.abort("client", "gone");
    let called = false;
    const err = failExchange(t.ex, new Error("aborted"), (m) => {
      called = true;
      return errors.engineFailed(m);
    });
    expect(called).toBe(false);
    expect([err.status, err.code]).toEqual([errors.clientClosed().status, errors.clientClosed().code]);
    expect([err.status, err.code]).toEqual([499, "client_closed"]);
    expect(t.rows).toEqual([expect.objectContaining({ status: "client_abort", httpStatus: 499 })]);
  });

  it("otherwise an engine_error row and the caller's error, built from the failure's words and cause", () => {
    const t = setup();
    t.ex.abort("shutdown", "SIGTERM");
    const cause = new Error("aborted");
    const err = failExchange(t.ex, cause, errors.engineFailed);
    expect(err.status).toBe(502);
    expect(err.code).toBe("engine_error");
    expect(err.message).toContain("the runner is shutting down (SIGTERM)");
    expect(err.cause).toBe(cause);
    expect(t.rows).toEqual([
      expect.objectContaining({
        status: "engine_error",
        httpStatus: 502,
        error: "the runner is shutting down (SIGTERM)",
      }),
    ]);
  });
});
