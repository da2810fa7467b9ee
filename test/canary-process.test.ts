// The canary against a real simulator process: an engine that wedges while idle (its /health still 200) is found
// by the canary and restarted before any user request meets it. The sim wedges on SIGUSR1 (sim/main.py).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ListenAddress } from "../src/engine/engine-driver.js";
import { ProcessDriver } from "../src/engine/process-driver.js";
import { silentLogger } from "../src/log/logger.js";
import { httpCanaryClient } from "../src/supervisor/canary-client.js";
import { systemClock } from "../src/supervisor/clock.js";
import { httpEngineProbe } from "../src/supervisor/engine-probe.js";
import { Supervisor } from "../src/supervisor/supervisor.js";

const RUNTIME_DIR = resolve(import.meta.dirname, "../runtime");
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function until(what: string, predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("canary probe on a real engine process", () => {
  it("finds an idle engine wedged behind a healthy /health, and restarts it", {
    timeout: 60_000,
  }, async () => {
    const home = mkdtempSync(join(tmpdir(), "llmr-canary-"));
    const driver = new ProcessDriver({
      python: "python3",
      runtimeDir: RUNTIME_DIR,
      home,
      port: 0,
      logger: silentLogger(),
    });
    const sup = new Supervisor(
      {
        instanceId: "canary-e2e",
        engine: "sim",
        modelId: "test-model",
        buildArgs: (l: ListenAddress) => [
          "test-model",
          "--served-model-name",
          "test-model",
          "--host",
          l.host,
          "--port",
          String(l.port),
        ],
        env: {},
        stallTimeoutMs: 20_000,
        hangTimeoutMs: 60_000,
        drainTimeoutMs: 2_000,
        stopGraceMs: 2_000,
        readinessPollMs: 100,
        livenessIntervalMs: 300,
        canaryIntervalMs: 400,
        canaryTimeoutMs: 2_000,
        restart: { initialDelayMs: 200 },
      },
      {
        driver,
        clock: systemClock,
        logger: silentLogger(),
        probe: httpEngineProbe,
        canary: httpCanaryClient,
      },
    );
    cleanups.push(async () => {
      await sup.stop({ force: true });
      rmSync(home, { recursive: true, force: true });
    });
    await sup.start();
    await sup.waitFor(["ready"], 20_000);
    // Canaries get their token from a healthy engine (over the engine's real /v1/completions, with its API key).
    await until("two canaries answered", () => (sup.snapshot().canary?.ok ?? 0) >= 2);
    expect(sup.snapshot().canary).toMatchObject({ errors: 0, timeouts: 0 });

    const pid = Number(sup.snapshot().engineId);
    process.kill(pid, "SIGUSR1");
    // The engine is killed on the hang; the error is recorded when it has exited.
    await until("the hang to be recorded", () => sup.snapshot().lastError !== null);
    expect(sup.snapshot().lastError?.reason).toBe("hang");
    expect(sup.snapshot().lastError?.message).toContain("canary");
    expect(sup.snapshot().canary?.timeouts).toBe(1);
    // Liveness never saw it: /health said OK the whole time.
    expect(sup.snapshot().lastError?.message).toContain("/health said OK");
    const next = await sup.waitFor(["ready"], 20_000);
    expect(next.generation).toBe(2);
    expect(Number(next.engineId)).not.toBe(pid);
  });
});
