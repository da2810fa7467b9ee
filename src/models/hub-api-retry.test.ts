// The hub's API calls retried as huggingface_hub's http_backoff retries its metadata calls (utils/_http.py):
// a temporary status or a failed connection is tried again after the wait the policy gives, on a fake clock.
import { describe, expect, it } from "vitest";
import { retryingFetch } from "./hub-api-retry.js";
import { PullError } from "./pull-error.js";
import type { RetryNotice } from "./temporary-failure.js";

const HUB = "https://hub.example";
const INFO = `${HUB}/api/models/acme/tiny/revision/main`;
const NOW = Date.parse("2026-03-01T12:00:00Z");

function harness(answers: Array<Response | Error>) {
  const calls: string[] = [];
  const sleeps: number[] = [];
  const notices: RetryNotice[] = [];
  const base = (async (input: Parameters<typeof fetch>[0]) => {
    calls.push(String(input));
    const next = answers.shift() ?? new Response("{}");
    if (next instanceof Error) throw next;
    return next;
  }) as typeof fetch;
  const f = retryingFetch(base, HUB, {
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    now: () => NOW,
    onRetry: (n) => notices.push(n),
  });
  return { f, calls, sleeps, notices };
}

const status = (code: number, headers: Record<string, string> = {}, body = "") =>
  new Response(body, { status: code, headers });

describe("retried API calls", () => {
  it("waits out a 429's Retry-After on the model info, then returns the hub's answer", async () => {
    const h = harness([status(429, { "Retry-After": "3" }), new Response('{"sha":"x"}')]);
    const res = await h.f(INFO);
    expect(await res.text()).toBe('{"sha":"x"}');
    expect(h.calls).toEqual([INFO, INFO]);
    expect(h.sleeps).toEqual([4000]);
    expect(h.notices).toEqual([
      {
        server: { role: "hub", host: "hub.example" },
        what: "the model info of acme/tiny",
        problem: "HTTP 429",
        attempt: 1,
        maxRetries: 5,
        waitMs: 4000,
        asked: true,
      },
    ]);
  });

  it("reads Retry-After as an HTTP date on the clock it is given", async () => {
    const h = harness([status(503, { "Retry-After": "Sun, 01 Mar 2026 12:00:10 GMT" }), new Response("[]")]);
    await h.f(`${HUB}/api/models/acme/tiny/tree/abc?recursive=true`);
    expect(h.sleeps).toEqual([11_000]);
    expect(h.notices[0]?.what).toBe("the file list of acme/tiny");
  });

  it("backs off 1, 2, 4, 8, 8 s and fails at the sixth 502, naming the hub and the status, not the body", async () => {
    const page = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    const h = harness(Array.from({ length: 6 }, () => status(502, { "Content-Type": "text/html" }, page)));
    const err = await h.f(INFO).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PullError);
    expect((err as PullError).kind).toBe("unavailable");
    expect((err as PullError).message).toBe(
      "the hub (hub.example) answered HTTP 502 for the model info of acme/tiny 6 times in a row",
    );
    expect((err as PullError).message).not.toContain("<");
    expect(h.calls).toHaveLength(6);
    expect(h.sleeps).toEqual([1000, 2000, 4000, 8000, 8000]);
  });

  it("retries a failed connection", async () => {
    const reset = Object.assign(new TypeError("fetch failed"), {
      cause: Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }),
    });
    const h = harness([reset, new Response("{}")]);
    expect((await h.f(INFO)).status).toBe(200);
    expect(h.notices[0]?.problem).toBe("fetch failed: read ECONNRESET");
  });

  it("passes other answers through at once (a 404 is the hub's final word)", async () => {
    const h = harness([status(404, { "X-Error-Code": "RepoNotFound" })]);
    expect((await h.f(INFO)).status).toBe(404);
    expect(h.sleeps).toEqual([]);
  });

  it("does not wait an hour because the hub says so: it stops and says when to come back", async () => {
    const h = harness([status(429, { "Retry-After": "3600" })]);
    const err = (await h.f(INFO).catch((e: unknown) => e)) as PullError;
    expect(err.message).toBe(
      "the hub (hub.example) answered HTTP 429 for the model info of acme/tiny and asks to wait 3600 s, longer than a pull waits",
    );
    expect(err.fix).toBe("run the command again after that wait: it resumes where it stopped");
    expect(h.sleeps).toEqual([]);
  });
});
