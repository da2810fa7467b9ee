import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { closeTracer, openTracer } from "./open-tracer.js";
import { OtelTracer } from "./otel-tracer.js";
import { NOOP_TRACER, type Tracer } from "./tracer.js";

const SRC = path.resolve(import.meta.dirname, "..");

function sources(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "testing") sources(p, out);
    } else if (p.endsWith(".ts") && !p.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

describe("openTracer", () => {
  it("is the no-op tracer with tracing off", async () => {
    expect(await openTracer(null)).toBe(NOOP_TRACER);
  });

  it("is the SDK adapter with tracing on", async () => {
    const tracer = await openTracer({
      tracesUrl: "http://127.0.0.1:9/v1/traces",
      headers: null,
      serviceName: "t",
      sampler: "always_on",
      ratio: 1,
    });
    expect(tracer).toBeInstanceOf(OtelTracer);
    await tracer.shutdown();
  });

  it("leaves OpenTelemetry unloaded with tracing off: only otel-tracer.ts imports it, and only open-tracer.ts imports that, dynamically", () => {
    const importers = sources(SRC).filter((f) => /from "@opentelemetry\//.test(readFileSync(f, "utf8")));
    expect(importers.map((f) => path.relative(SRC, f))).toEqual([path.join("telemetry", "otel-tracer.ts")]);
    const adapterUsers = sources(SRC).filter((f) =>
      /["']\.{1,2}\/.*otel-tracer\.js["']/.test(readFileSync(f, "utf8")),
    );
    expect(adapterUsers.map((f) => path.relative(SRC, f))).toEqual([
      path.join("telemetry", "open-tracer.ts"),
    ]);
    expect(readFileSync(path.join(SRC, "telemetry", "open-tracer.ts"), "utf8")).toMatch(
      /await import\("\.\/otel-tracer\.js"\)/,
    );
  });
});

describe("closeTracer", () => {
  it("gives up on a collector that does not answer in time, so a stop is not held up", async () => {
    const warned: string[] = [];
    const logger = { ...quiet, warn: (_: unknown, msg?: string) => void warned.push(msg ?? "") };
    const hanging: Tracer = { ...NOOP_TRACER, enabled: true, shutdown: () => new Promise(() => {}) };
    const t0 = Date.now();
    await closeTracer(hanging, logger, 50);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(warned).toEqual(["the last spans were not exported in time; dropped"]);
  });
});
