import fc from "fast-check";
import { AggregatorRegistry, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { RouteHistogram } from "./route-histogram.js";

const BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1, 2.5];
const NAME = "llm_runner_test_seconds";
const HELP = "A test histogram.";

/** Ours and prom-client's own Histogram, each in its own registry, fed the same observations. */
function pair() {
  const ours = new Registry();
  const theirs = new Registry();
  const h = new RouteHistogram({
    name: NAME,
    help: HELP,
    labelName: "route",
    buckets: BUCKETS,
    registers: [ours],
  });
  const ref = new Histogram({
    name: NAME,
    help: HELP,
    labelNames: ["route"] as const,
    buckets: BUCKETS,
    registers: [theirs],
  });
  return {
    ours,
    theirs,
    observe(route: string, v: number) {
      h.observe(route, v);
      ref.observe({ route }, v);
    },
    reset() {
      h.reset();
      ref.reset();
    },
  };
}

// Values around every bound (equal to one counts in it: le is "less or equal"), beyond the last, negative, tiny.
const value = fc.oneof(
  fc.constantFrom(...BUCKETS, 0, -0, -1, 2.5000001, 1e9),
  fc.double({ min: -1, max: 5, noNaN: true }),
  fc.double({ min: 0, max: 1e-3, noNaN: true }),
);
const route = fc.constantFrom("/llm", "/v1/chat/completions", "/v1/completions", 'a"b\\c\nd', "é");
const observation = fc.tuple(route, value);

describe("RouteHistogram", () => {
  it("exposes exactly what prom-client's Histogram exposes for the same observations (text and JSON)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(observation, { maxLength: 200 }), async (obs) => {
        const p = pair();
        for (const [r, v] of obs) p.observe(r, v);
        expect(await p.ours.metrics()).toBe(await p.theirs.metrics());
        expect(JSON.stringify(await p.ours.getMetricsAsJSON())).toBe(
          JSON.stringify(await p.theirs.getMetricsAsJSON()),
        );
        expect(await p.ours.getMetricsAsJSON()).toStrictEqual(await p.theirs.getMetricsAsJSON());
      }),
      { numRuns: 300 },
    );
  });

  it("merges across workers like prom-client's Histogram (AggregatorRegistry.aggregate)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(observation), fc.array(observation), async (a, b) => {
        const w1 = pair();
        const w2 = pair();
        for (const [r, v] of a) w1.observe(r, v);
        for (const [r, v] of b) w2.observe(r, v);
        const ours = AggregatorRegistry.aggregate([
          await w1.ours.getMetricsAsJSON(),
          await w2.ours.getMetricsAsJSON(),
        ]);
        const theirs = AggregatorRegistry.aggregate([
          await w1.theirs.getMetricsAsJSON(),
          await w2.theirs.getMetricsAsJSON(),
        ]);
        expect(await ours.metrics()).toBe(await theirs.metrics());
      }),
      { numRuns: 100 },
    );
  });

  it("starts over after reset, like prom-client's", async () => {
    const p = pair();
    p.observe("/llm", 0.003);
    p.reset();
    expect(await p.ours.metrics()).toBe(`# HELP ${NAME} ${HELP}\n# TYPE ${NAME} histogram\n`);
    p.observe("/v1/completions", 0.3);
    expect(await p.ours.metrics()).toBe(await p.theirs.metrics());
  });

  it("refuses a value that is not a finite number, as prom-client does", () => {
    const h = new RouteHistogram({
      name: NAME,
      help: HELP,
      labelName: "route",
      buckets: BUCKETS,
      registers: [],
    });
    expect(() => h.observe("/llm", Number.NaN)).toThrow(/not a valid number/);
    expect(() => h.observe("/llm", Number.POSITIVE_INFINITY)).toThrow(/not a valid number/);
  });

  it("refuses bounds that are not ascending", () => {
    expect(
      () =>
        new RouteHistogram({
          name: NAME,
          help: HELP,
          labelName: "route",
          buckets: [0.1, 0.1],
          registers: [],
        }),
    ).toThrow(/finite and ascending/);
  });
});
