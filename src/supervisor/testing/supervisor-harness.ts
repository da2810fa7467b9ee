// Fakes for supervisor tests: an engine driver, a health probe and a canary that tests drive by hand, over the
// fake clock. Test-only (excluded from the build).
import { expect } from "vitest";
import type { EngineDriver, EngineExit, EngineHandle, EngineStartSpec } from "../../engine/engine-driver.js";
import { silentLogger } from "../../log/logger.js";
import type { CanaryAnswer, CanaryClient } from "../canary-client.js";
import { FakeClock } from "../clock.js";
import type { EngineProbe, ProbeResult } from "../engine-probe.js";
import { Supervisor, type SupervisorDeps, type SupervisorOptions } from "../supervisor.js";
import type { EngineEndpoint, SupervisorState } from "../types.js";

/** A canary whose answers the test gives: each call waits until answer() or its abort signal. */
export class FakeCanary implements CanaryClient {
  calls: Array<{ endpoint: EngineEndpoint; model: string; signal: AbortSignal }> = [];
  /** Answer at once with this, instead of waiting for answer(). */
  auto: CanaryAnswer | null = { kind: "token" };
  private pending: Array<(a: CanaryAnswer) => void> = [];
  generate(endpoint: EngineEndpoint, model: string, signal: AbortSignal): Promise<CanaryAnswer> {
    this.calls.push({ endpoint, model, signal });
    if (this.auto) return Promise.resolve(this.auto);
    return new Promise((resolve) => {
      this.pending.push(resolve);
      signal.addEventListener("abort", () => resolve({ kind: "error", detail: "aborted" }));
    });
  }
  answer(a: CanaryAnswer = { kind: "token" }): void {
    for (const r of this.pending.splice(0)) r(a);
  }
}

export class FakeEngine implements EngineHandle {
  readonly exited: Promise<EngineExit>;
  stopCalls: number[] = [];
  /** False: stop() leaves the engine running (a draining vLLM) until exit() is called. */
  exitOnStop = true;
  /** What running() answers: a test sets it false for an engine that died before its exit was reported. */
  alive = true;
  private resolveExit!: (e: EngineExit) => void;
  constructor(
    readonly id: string,
    readonly spec: EngineStartSpec,
  ) {
    this.exited = new Promise((r) => {
      this.resolveExit = r;
    });
  }
  get baseUrl() {
    return `http://127.0.0.1:1/${this.id}`;
  }
  exit(code: number | null, signal: string | null = null) {
    this.alive = false;
    this.resolveExit({ code, signal });
  }
  async running() {
    return this.alive;
  }
  async stop(graceMs: number) {
    this.stopCalls.push(graceMs);
    if (this.exitOnStop || graceMs === 0) this.exit(null, graceMs === 0 ? "SIGKILL" : "SIGTERM");
    await this.exited;
  }
}

export class FakeDriver implements EngineDriver {
  readonly kind = "process" as const;
  engines: FakeEngine[] = [];
  failStart: Error | null = null;
  orphans: string[] = [];
  async start(spec: EngineStartSpec) {
    if (this.failStart) throw this.failStart;
    const e = new FakeEngine(`e${this.engines.length + 1}`, spec);
    this.engines.push(e);
    return e;
  }
  async removeOrphans() {
    const o = this.orphans;
    this.orphans = [];
    return o;
  }
  get last(): FakeEngine {
    const e = this.engines.at(-1);
    if (!e) throw new Error("no engine started");
    return e;
  }
}

export class FakeProbe implements EngineProbe {
  result: ProbeResult = "unreachable";
  calls = 0;
  async health() {
    this.calls++;
    return this.result;
  }
}

export function setup(overrides: Partial<SupervisorOptions> = {}, deps: Partial<SupervisorDeps> = {}) {
  const clock = new FakeClock();
  const driver = new FakeDriver();
  const probe = new FakeProbe();
  const canary = new FakeCanary();
  const options: SupervisorOptions = {
    instanceId: "test",
    engine: "sim",
    modelId: "m",
    buildArgs: () => ["m"],
    env: { HF_TOKEN: "hf" },
    stallTimeoutMs: 60_000,
    hangTimeoutMs: 10_000,
    drainTimeoutMs: 5_000,
    stopGraceMs: 3_000,
    ...overrides,
  };
  let keys = 0;
  const sup = new Supervisor(options, {
    driver,
    clock,
    probe,
    canary,
    logger: silentLogger(),
    randomKey: () => `key-${++keys}`,
    ...deps,
  });
  const states: SupervisorState[] = [];
  sup.on((ev) => {
    if (ev.type === "state") states.push(ev.to);
  });
  return { clock, driver, probe, canary, sup, states };
}

export async function startReady(t: ReturnType<typeof setup>) {
  await t.sup.start();
  await t.clock.advance(0);
  t.probe.result = "ok";
  await t.clock.advance(300);
  expect(t.sup.snapshot().state).toBe("ready");
}
