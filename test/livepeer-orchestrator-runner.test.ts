// The whole runner (built CLI, supervisor, simulator engine) read by go-livepeer's rules
// (test/helpers/livepeer-rules.ts) through an engine crash and an engine hang: a request the engine fails is
// an error, never a paid empty answer; while the engine restarts, /llm refuses with 500 + Retry-After (JSON)
// or a non-200 (stream), /ready says 503 and /health keeps its 200 word; /ready returns to 200 once it serves.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, runCli, waitFor } from "./helpers/cli.js";
import { readNonStreaming, readStreaming, semverAtLeast, streamFailed } from "./helpers/livepeer-rules.js";
import { authHeaders, startRunner, stopAllRunners } from "./helpers/load.js";

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllRunners();
});

async function llm(url: string, stream: boolean, content = "hello there") {
  const res = await fetch(`${url}/llm`, {
    method: "POST",
    headers: { "content-type": "application/json", ...authHeaders() },
    body: JSON.stringify({ messages: [{ role: "user", content }], max_tokens: 16, stream }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return {
    retryAfter: res.headers.get("retry-after"),
    json: () => readNonStreaming(res.status, res.headers.get("content-type"), text),
    stream: () => readStreaming(res.status, text),
  };
}

const ready = async (url: string) => (await fetch(`${url}/ready`)).status;
const healthStatus = async (url: string) =>
  ((await (await fetch(`${url}/health`)).json()) as { status: string }).status;

describe("an external runner through engine faults, as the orchestrator reads it", () => {
  it("a crash: the failed request is a 500, the restart window refuses with 500/non-200, then it serves again", {
    timeout: 90_000,
  }, async () => {
    // The second request crashes the engine; the new engine loads for 3 s: the window the orchestrator sees.
    const runner = await startRunner({ SIM_CRASH_AFTER: "2", SIM_LOAD_SECONDS: "3" });
    expect(await ready(runner.url)).toBe(200);

    // What an operator pastes into aiModels.json, used as the orchestrator uses it at its start-up.
    const printed = await runCli(["orchestrator", "--show-token"], runner.env);
    expect(printed.code, printed.stderr).toBe(0);
    const [entry] = JSON.parse(printed.stdout) as Array<{ url: string; token: string; capacity: number }>;
    expect(entry).toMatchObject({
      url: runner.url,
      token: authHeaders().authorization?.slice("Bearer ".length),
    });
    expect(await healthStatus(entry?.url ?? "")).not.toBe("ERROR");
    const version = (await (await fetch(`${entry?.url}/version`)).json()) as { version: string };
    expect(semverAtLeast(version.version, "0.14.1")).toBe(true);
    const first = await fetch(`${entry?.url}/llm`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${entry?.token}` },
      body: JSON.stringify({ messages: [{ role: "user", content: "hello" }], max_tokens: 8 }),
    });
    const answered = readNonStreaming(first.status, first.headers.get("content-type"), await first.text());
    expect(answered).toMatchObject({ kind: "answer" });

    const crashed = (await llm(runner.url, false)).json();
    expect(crashed).toMatchObject({ kind: "error", status: 500 });

    await waitFor(async () => (await ready(runner.url)) === 503, 10_000, "/ready to say 503");
    const refused = await llm(runner.url, false);
    expect(refused.json()).toMatchObject({ kind: "error", status: 500 });
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await llm(runner.url, true)).stream()).toEqual({ kind: "error", status: 500 });
    expect(await healthStatus(runner.url)).toBe("LOADING");

    await waitFor(async () => (await ready(runner.url)) === 200, 60_000, "/ready to return to 200");
    const served = (await llm(runner.url, true)).stream();
    expect(streamFailed(served)).toBe(false);
  });

  it("a hang: the JSON request is a 500 and the stream ends with finish_reason error", {
    timeout: 90_000,
  }, async () => {
    // Every request hangs; the supervisor's watchdog ends them after ENGINE_HANG_TIMEOUT.
    const runner = await startRunner({ SIM_HANG_AFTER: "0", ENGINE_HANG_TIMEOUT: "2" });
    const [json, stream] = await Promise.all([llm(runner.url, false), llm(runner.url, true)]);
    expect(json.json()).toMatchObject({ kind: "error", status: 500 });
    const s = stream.stream();
    expect(s).toMatchObject({ kind: "stream", finishReason: "error", broken: null });
    expect(streamFailed(s)).toBe(true);
  });
});
