import { describe, expect, it } from "vitest";
import type { LiveRunnerSnapshot } from "../livepeer/live-runner/live-runner-agent.js";
import { renderLiveRunnerGauges } from "./live-runner-gauges.js";

function snapshot(over: Partial<LiveRunnerSnapshot> = {}): LiveRunnerSnapshot {
  return {
    orchestrator: "http://orch:8935",
    runnerUrl: "http://gpu:8000",
    mode: "single-shot",
    app: "m",
    runnerId: "runner_a",
    registered: true,
    problem: null,
    lastResult: null,
    lastOkAt: null,
    sent: { status: "ready", capacity: 8, priceUsdPerHour: 2.5 },
    intervalMs: 5_000,
    ttlMs: 20_000,
    sessions: 1,
    o2r: "connected",
    heartbeats: {
      registered: 1,
      ok: 3,
      auth_refused: 0,
      not_found: 0,
      bad_request: 0,
      server_error: 0,
      unreachable: 0,
      bad_reply: 0,
    },
    ...over,
  };
}

describe("the Live Runner series", () => {
  it("one registration: no model label, as always", async () => {
    const text = await renderLiveRunnerGauges(snapshot());
    expect(text).toContain("llm_runner_live_runner_registered 1");
    expect(text).toContain("llm_runner_live_runner_capacity 8");
    expect(text).toContain('llm_runner_live_runner_heartbeats_total{result="ok"} 3');
    expect(await renderLiveRunnerGauges(null)).toBe("");
  });

  it("several models: each registration's series, labelled model", async () => {
    const text = await renderLiveRunnerGauges(snapshot(), [
      { model: "llama", snapshot: snapshot() },
      { model: "qwen", snapshot: snapshot({ registered: false, sent: null, sessions: 0 }) },
    ]);
    expect(text).toContain('llm_runner_live_runner_registered{model="llama"} 1');
    expect(text).toContain('llm_runner_live_runner_registered{model="qwen"} 0');
    expect(text).toContain('llm_runner_live_runner_capacity{model="llama"} 8');
    expect(text).toContain('llm_runner_live_runner_price_usd_per_hour{model="llama"} 2.5');
    expect(text).toContain('llm_runner_live_runner_heartbeats_total{model="qwen",result="ok"} 3');
    expect(text).not.toMatch(/^llm_runner_live_runner_registered 1$/m);
  });
});
