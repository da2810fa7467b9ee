import { describe, expect, it } from "vitest";
import { isLoopbackListen } from "./allowed-hosts.js";
import { resolveLiveRunnerUrl } from "./live-runner-rules.js";
import { bad, ok } from "./testing/load-config-kit.js";

const ORCH = { LIVE_RUNNER_ORCH_URL: "http://10.0.0.2:8935", LIVE_RUNNER_SECRET: "s3cret" };

describe("the LIVE_RUNNER_* variables", () => {
  it("are off by default, with the served model as the app", async () => {
    const { config } = await ok({ MODEL_ID: "Qwen/Qwen2.5-0.5B-Instruct" });
    expect(config.liveRunner).toEqual({
      orchestratorUrl: null,
      secret: null,
      url: null,
      mode: "single-shot",
      priceUsdPerHour: null,
      label: null,
      app: "Qwen/Qwen2.5-0.5B-Instruct",
      tlsInsecure: false,
    });
  });

  it("read every value, go-livepeer's single_shot spelling and a trailing slash included", async () => {
    const { config } = await ok({
      ...ORCH,
      LIVE_RUNNER_ORCH_URL: "https://orch.example:8935/",
      LIVE_RUNNER_URL: "http://10.0.0.5:8000",
      LIVE_RUNNER_MODE: "single_shot",
      LIVE_RUNNER_PRICE_USD_PER_HOUR: "2.75",
      LIVE_RUNNER_LABEL: "gpu-node-1",
      LIVE_RUNNER_APP: "llm/qwen",
      LIVE_RUNNER_TLS_INSECURE: "TRUE",
    });
    expect(config.liveRunner).toEqual({
      orchestratorUrl: "https://orch.example:8935",
      secret: "s3cret",
      url: "http://10.0.0.5:8000",
      mode: "single-shot",
      priceUsdPerHour: 2.75,
      label: "gpu-node-1",
      app: "llm/qwen",
      tlsInsecure: true,
    });
    expect((await ok({ LIVE_RUNNER_PRICE_USD_PER_HOUR: "AUTO" })).config.liveRunner.priceUsdPerHour).toBe(
      "auto",
    );
    expect((await ok({ LIVE_RUNNER_MODE: "persistent" })).config.liveRunner.mode).toBe("persistent");
  });

  it("registration needs the secret; every problem is reported at once, the secret never shown", async () => {
    const issues = await bad({
      LIVE_RUNNER_ORCH_URL: "http://10.0.0.2:8935",
      HOST: "0.0.0.0",
      LIVE_RUNNER_MODE: "sometimes",
    });
    expect(issues.map((i) => i.variable).sort()).toEqual([
      "LIVE_RUNNER_MODE",
      "LIVE_RUNNER_SECRET",
      "LIVE_RUNNER_URL",
    ]);
    const secret = await bad({ ...ORCH, LIVE_RUNNER_SECRET: "has a space" });
    expect(secret[0]?.value).toBe("*** (11 characters)");
  });

  it("refuses a runner address the orchestrator cannot reach", async () => {
    const wildcard = await bad({ ...ORCH, HOST: "0.0.0.0" });
    expect(wildcard[0]?.message).toContain("no one address to register");
    const loopback = await bad({ ...ORCH, HOST: "127.0.0.1" });
    expect(loopback[0]?.message).toContain("is loopback");
    const explicit = await bad({ ...ORCH, LIVE_RUNNER_URL: "http://localhost:8000" });
    expect(explicit[0]?.message).toContain("cannot reach");
    // Both on this machine: loopback is fine.
    const local = await ok({ ...ORCH, LIVE_RUNNER_ORCH_URL: "http://127.0.0.1:8935", HOST: "0.0.0.0" });
    expect(local.config.liveRunner.orchestratorUrl).toBe("http://127.0.0.1:8935");
    await ok({ ...ORCH, HOST: "10.0.0.5" });
    await ok({ ...ORCH, HOST: "0.0.0.0", LIVE_RUNNER_URL: "http://10.0.0.5:8000" });
  });

  it('"auto" prices in USD only', async () => {
    const issues = await bad({ LIVE_RUNNER_PRICE_USD_PER_HOUR: "auto", CURRENCY: "wei" });
    expect(issues[0]?.message).toContain("CURRENCY is wei, not USD");
  });

  it("warns that direct requests need AUTH_TOKEN when a registered runner listens beyond loopback", async () => {
    const { warnings } = await ok({ ...ORCH, HOST: "10.0.0.5" });
    expect(warnings.join("\n")).toContain("only requests for sessions the orchestrator reserved are served");
  });
});

describe("resolveLiveRunnerUrl", () => {
  it("derives http://HOST:PORT, loopback for a wildcard HOST next to a local orchestrator", () => {
    expect(
      resolveLiveRunnerUrl({
        host: "0.0.0.0",
        port: 8000,
        url: null,
        orchestratorUrl: "http://127.0.0.1:8935",
      }),
    ).toEqual({
      url: "http://127.0.0.1:8000",
    });
    expect(
      resolveLiveRunnerUrl({ host: "::1", port: 9, url: null, orchestratorUrl: "http://[::1]:1" }),
    ).toEqual({
      url: "http://[::1]:9",
    });
    expect(
      resolveLiveRunnerUrl({
        host: "10.1.2.3",
        port: 8000,
        url: null,
        orchestratorUrl: "http://10.0.0.2:8935",
      }),
    ).toEqual({
      url: "http://10.1.2.3:8000",
    });
  });

  it("knows loopback names", () => {
    for (const h of ["localhost", "app.localhost", "127.0.0.1", "127.9.9.9", "::1", "[::1]"])
      expect(isLoopbackListen(h)).toBe(true);
    for (const h of ["10.0.0.1", "0.0.0.0", "localhost.example.com", "128.0.0.1"])
      expect(isLoopbackListen(h)).toBe(false);
  });
});
