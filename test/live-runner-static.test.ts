// A static Live Runner: what `llm-runner orchestrator --live-runner` prints, registered with the fake orchestrator by
// go-livepeer's static rules (test/helpers/fake-orchestrator.ts registerStatic), health-checked on /live-runner,
// and served through the proxy; its health follows the runner's own state.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, runCli, waitFor } from "./helpers/cli.js";
import { FakeOrchestrator } from "./helpers/fake-orchestrator.js";
import { startRunner, stopAllRunners } from "./helpers/load.js";

const orchestrators: FakeOrchestrator[] = [];
beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllRunners();
  for (const o of orchestrators.splice(0)) await o.stop().catch(() => {});
});

describe("llm-runner orchestrator --live-runner", () => {
  it("prints a runners.json the orchestrator accepts, whose runner it then health-checks and proxies to", {
    timeout: 90_000,
  }, async () => {
    // Static: no AUTH_TOKEN (the proxy could not send it), on an address only the orchestrator should reach.
    const runner = await startRunner(
      { MAX_NUM_SEQS: "5", LIVE_RUNNER_PRICE_USD_PER_HOUR: "1.25", LIVE_RUNNER_MODE: "persistent" },
      { auth: false },
    );
    const printed = await runCli(["orchestrator", "--live-runner", "--label", "gpu-node-1"], runner.env);
    expect(printed.code, printed.stderr).toBe(0);
    const doc = JSON.parse(printed.stdout) as { runners: Array<Record<string, unknown>> };
    expect(doc).toEqual({
      runners: [
        {
          label: "gpu-node-1",
          runner_url: runner.url,
          health_url: "/live-runner",
          healthy_status_code: 200,
          app: "meta-llama/Meta-Llama-3.1-8B-Instruct",
          version: expect.stringMatching(/^\d+\.\d+\.\d+/),
          mode: "persistent",
          capacity: 5,
          price_info: { price: 1.25, currency: "usd", unit: "hour" },
        },
      ],
    });
    expect(printed.stderr).toContain("-liveRunnerConfig");

    const o = await new FakeOrchestrator({ secret: null, onchain: true }).start();
    orchestrators.push(o);
    const registered = await o.registerStatic(doc, 300);
    expect(registered).toMatchObject({ status: 200, runners: [{ label: "gpu-node-1", healthy: true }] });
    const id = (registered as { runners: Array<{ runner_id: string }> }).runners[0]?.runner_id as string;

    const reserved = await fetch(`${o.url}/apps/${id}/session`, { method: "POST" });
    expect(reserved.status).toBe(200);
    const { session_id } = (await reserved.json()) as { session_id: string };
    const res = await fetch(`${o.url}/apps/${id}/session/${session_id}/app/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "meta-llama/Meta-Llama-3.1-8B-Instruct",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 4,
      }),
    });
    expect(res.status).toBe(200);
    // The session id is in the ledger even though a static runner cannot verify it.
    const usage = JSON.parse(
      (await runCli(["usage", "--by-session", "--json"], runner.env)).stdout,
    ) as Array<{
      sessionId: string;
    }>;
    expect(usage.map((u) => u.sessionId)).toEqual([session_id]);

    // Draining: /live-runner goes 503 and the orchestrator marks it unavailable, releasing the session.
    const stopping = runCli(["stop", "--timeout", "20"], runner.env);
    await waitFor(
      async () => (o.runner(id)?.req.status === "unavailable" ? true : null),
      10_000,
      "unavailable",
    );
    expect(o.runner(id)?.sessions.size).toBe(0);
    expect((await stopping).code).toBe(0);
  });

  it("says what it cannot know: no price for an on-chain orchestrator, AUTH_TOKEN that the proxy can't send", async () => {
    const home = await startRunner({}, { launch: false });
    const printed = await runCli(["orchestrator", "--live-runner", "--json"], home.env);
    expect(printed.code, printed.stderr).toBe(0);
    const out = JSON.parse(printed.stdout) as {
      runners: Array<{ label: string; price_info: object }>;
      notes: string[];
    };
    expect(out.runners[0]?.label).toMatch(/^llm-runner-/);
    expect(out.runners[0]?.price_info).toEqual({ currency: "usd", unit: "hour" });
    expect(out.notes.join("\n")).toContain("an on-chain one refuses the entry");
    expect(out.notes.join("\n")).toContain("proxied requests would get 401");
    // go-livepeer refuses that entry on-chain, and takes it off-chain.
    const onchain = await new FakeOrchestrator({ secret: null, onchain: true }).start();
    orchestrators.push(onchain);
    expect(await onchain.registerStatic({ runners: out.runners })).toMatchObject({
      status: 400,
      message: "runners[0]: price_info.price is required",
    });
    const offchain = await new FakeOrchestrator({ secret: null }).start();
    orchestrators.push(offchain);
    expect(await offchain.registerStatic({ runners: out.runners })).toMatchObject({ status: 200 });
    const bad = await runCli(["orchestrator", "--live-runner", "--label", "a/b"], home.env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--label 'a/b'");
  });

  it("--target-usd-per-mtok prices a session slot per hour from the ledger's tokens per second", {
    timeout: 90_000,
  }, async () => {
    // 20 tokens 25 ms apart: about 40 tokens per second of a request in flight.
    const runner = await startRunner(
      { SIM_MODE: "lorem", SIM_ITL_MS: "25", SIM_TTFT_MS: "0" },
      { auth: false },
    );
    const early = await runCli(
      ["orchestrator", "--live-runner", "--target-usd-per-mtok", "0.08", "--json"],
      runner.env,
    );
    expect(JSON.parse(early.stdout).notes.join("\n")).toContain("10 are needed for a price per hour");
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${runner.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: "meta-llama/Meta-Llama-3.1-8B-Instruct",
          prompt: "go",
          max_tokens: 20,
          ignore_eos: true,
        }),
      });
      expect(res.status).toBe(200);
      await res.text();
    }
    const priced = await runCli(
      ["orchestrator", "--live-runner", "--target-usd-per-mtok", "0.08", "--json"],
      runner.env,
    );
    expect(priced.code, priced.stderr).toBe(0);
    const out = JSON.parse(priced.stdout) as {
      runners: Array<{ price_info: { price: number } }>;
      pricing: { usdPerHour: number; tokensPerSecond: number; requests: number; completionTokens: number };
    };
    expect(out.pricing.requests).toBe(10);
    expect(out.pricing.completionTokens).toBe(200);
    expect(out.pricing.tokensPerSecond).toBeGreaterThan(15);
    expect(out.pricing.tokensPerSecond).toBeLessThan(45);
    // The definition: a slot busy for an hour generates tokensPerSecond × 3600 tokens, at 0.08 USD per million.
    expect(out.pricing.usdPerHour).toBeCloseTo((0.08 * out.pricing.tokensPerSecond * 3600) / 1e6, 6);
    expect(out.runners[0]?.price_info.price).toBe(out.pricing.usdPerHour);
    const words = await runCli(["orchestrator", "--target-usd-per-mtok", "0.08"], runner.env);
    expect(words.stderr).toMatch(/Live Runner: [\d.e-]+ USD per hour per session slot: 10 finished requests/);
  });
});
