import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { ListenAddress } from "../src/engine/engine-driver.js";
import { ProcessDriver } from "../src/engine/process-driver.js";
import { isAlive } from "../src/engine/process-group.js";
import { silentLogger } from "../src/log/logger.js";
import { systemClock } from "../src/supervisor/clock.js";
import { httpEngineProbe } from "../src/supervisor/engine-probe.js";
import { Supervisor, type SupervisorOptions } from "../src/supervisor/supervisor.js";
import type { SupervisorEvent } from "../src/supervisor/types.js";

const RUNTIME_DIR = resolve(import.meta.dirname, "../runtime");
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function makeSupervisor(simFlags: string[], overrides: Partial<SupervisorOptions> = {}) {
  const home = mkdtempSync(join(tmpdir(), "llmr-sup-"));
  const driver = new ProcessDriver({
    python: "python3",
    runtimeDir: RUNTIME_DIR,
    home,
    port: 0,
    logger: silentLogger(),
  });
  const sup = new Supervisor(
    {
      instanceId: "e2e",
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
        "--max-model-len",
        "4096",
        ...simFlags,
      ],
      env: {},
      stallTimeoutMs: 20_000,
      hangTimeoutMs: 1_500,
      drainTimeoutMs: 5_000,
      stopGraceMs: 5_000,
      readinessPollMs: 100,
      livenessIntervalMs: 500,
      restart: { initialDelayMs: 200, maxDelayMs: 1_000 },
      ...overrides,
    },
    { driver, clock: systemClock, logger: silentLogger(), probe: httpEngineProbe },
  );
  const events: SupervisorEvent[] = [];
  sup.on((e) => events.push(e));
  cleanups.push(async () => {
    await sup.stop({ force: true });
    rmSync(home, { recursive: true, force: true });
  });
  return { sup, events, home };
}

/** Sends one streamed chat completion through a ticket, reporting progress per chunk as the gateway does. */
async function streamThrough(sup: Supervisor, maxTokens = 20): Promise<{ chunks: number; error?: string }> {
  const ticket = sup.admit();
  if (!ticket) throw new Error(`not admitted in state ${sup.snapshot().state}`);
  let chunks = 0;
  try {
    const res = await request(`${ticket.endpoint.baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${ticket.endpoint.apiKey}` },
      body: JSON.stringify({
        model: "test-model",
        messages: [{ role: "user", content: "one two three four five six seven eight nine ten" }],
        max_tokens: maxTokens,
        stream: true,
      }),
      signal: ticket.signal,
    });
    for await (const chunk of res.body) {
      chunks += String(chunk).split("data: ").length - 1;
      ticket.progress();
    }
    return { chunks };
  } catch (err) {
    return { chunks, error: (err as Error).message };
  } finally {
    ticket.end();
  }
}

describe("Supervisor + ProcessDriver + simulator", () => {
  it("shows loading progress during a slow start, then becomes ready", async () => {
    const { sup, events } = makeSupervisor(["--sim-load-seconds", "1.5"]);
    await sup.start();
    const snap = await sup.waitFor(["ready"], 20_000);
    expect(snap.engineId).not.toBeNull();
    const progress = events.flatMap((e) =>
      e.type === "progress" && e.progress !== null ? [e.progress] : [],
    );
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    const states = events.flatMap((e) => (e.type === "state" ? [e.to] : []));
    expect(states).toEqual(["starting", "loading", "ready"]);
    expect((await streamThrough(sup)).chunks).toBeGreaterThan(0);
  });

  it("brings the engine back after a kill -9 from outside", async () => {
    const { sup } = makeSupervisor([]);
    await sup.start();
    const first = await sup.waitFor(["ready"], 20_000);
    const killedAt = Date.now();
    process.kill(Number(first.engineId), "SIGKILL");
    await sup.waitFor(["restarting"], 5_000);
    const again = await sup.waitFor(["ready"], 20_000);
    const recovery = Date.now() - killedAt;
    expect(again.engineId).not.toBe(first.engineId);
    expect(again.generation).toBe(first.generation + 1);
    expect(again.restarts).toBe(1);
    expect(again.lastError?.reason).toBe("crash");
    expect(isAlive(Number(first.engineId))).toBe(false);
    expect((await streamThrough(sup)).error).toBeUndefined();
    console.log(`crash → ready again: ${recovery} ms`);
  });

  it("a crash mid-stream ends the stream for the client and the engine is restarted", async () => {
    const { sup } = makeSupervisor(["--sim-crash-after", "1", "--sim-itl-ms", "20"]);
    await sup.start();
    await sup.waitFor(["ready"], 20_000);
    const result = await streamThrough(sup, 200);
    expect(result.chunks).toBeLessThan(200);
    await sup.waitFor(["restarting"], 5_000);
    await sup.waitFor(["ready"], 20_000);
    expect(sup.snapshot().restarts).toBe(1);
    expect(sup.snapshot().inFlight).toBe(0);
  });

  it("detects a hung engine (health OK, no tokens) and restarts it", async () => {
    const { sup } = makeSupervisor(["--sim-hang-after", "1"]);
    await sup.start();
    await sup.waitFor(["ready"], 20_000);
    expect((await streamThrough(sup)).error).toBeUndefined(); // request 1 is fine
    const hungAt = Date.now();
    const hung = await streamThrough(sup); // request 2 hangs until the watchdog fires
    expect(hung.error).toBeDefined();
    expect(Date.now() - hungAt).toBeLessThan(6_000);
    await sup.waitFor(["restarting"], 5_000);
    await sup.waitFor(["ready"], 20_000);
    expect(sup.snapshot().lastError?.reason).toBe("hang");
    expect(sup.snapshot().restarts).toBe(1);
  });

  it("a fatal start fails with the runtime's reason and no restart", async () => {
    const { sup } = makeSupervisor(["--sim-fail-start", "gpu_memory_busy", "--sim-load-seconds", "0.3"]);
    await sup.start();
    const snap = await sup.waitFor(["failed"], 20_000);
    expect(snap.lastError?.reason).toBe("gpu_memory_busy");
    expect(snap.lastError?.hint).toBeTruthy();
    expect(snap.restarts).toBe(0);
  });

  it("drains in-flight streams on stop, then stops the engine", async () => {
    const { sup } = makeSupervisor(["--sim-itl-ms", "10"]);
    await sup.start();
    const ready = await sup.waitFor(["ready"], 20_000);
    const inflight = streamThrough(sup, 60);
    await new Promise((r) => setTimeout(r, 100));
    await sup.stop();
    const result = await inflight;
    expect(result.error).toBeUndefined();
    expect(result.chunks).toBeGreaterThan(10);
    expect(sup.snapshot().state).toBe("stopped");
    expect(isAlive(Number(ready.engineId))).toBe(false);
  });
});
