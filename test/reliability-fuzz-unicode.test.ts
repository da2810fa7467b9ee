import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAlive } from "../src/engine/process-group.js";
import { assertBuilt } from "./helpers/cli.js";
import { call, type Route, type Runner, startRunner, stopAllRunners, streamProblem } from "./helpers/load.js";

// Escaped lone surrogates, NULs and oversized numbers in every field of every route reach a 4xx at the gateway
// (or, where they are legal, a clean answer): never a 5xx, and never forwarded to an engine that would fail on
// them. One runner (built CLI, simulator engine).

const MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct";
const ROUTES: Route[] = ["/llm", "/v1/chat/completions"];
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2_147_483_647);
const runs = (n: number) => ({ numRuns: n, seed, interruptAfterTimeLimit: 25_000, endOnFailure: true });

let runner: Runner;
const tally = { tried: 0, fourxx: 0, ok: 0, fivexx: 0 };
beforeAll(async () => {
  assertBuilt();
  runner = await startRunner({ MAX_NUM_SEQS: "64" });
}, 60_000);
afterAll(async () => {
  console.log(
    `reliability-fuzz-unicode: ${tally.tried} inputs (seed ${seed}): ${tally.fourxx} 4xx, ${tally.ok} 200, ${tally.fivexx} 5xx`,
  );
  await stopAllRunners();
});

/** Every field a client can send on the route (the gateway's own and ones it passes through), with a base. */
function baseBody(route: Route, stream: boolean): Record<string, unknown> {
  const messages = [
    { role: "system", content: "be brief" },
    { role: "user", content: "hi", ...(route === "/llm" ? {} : { name: "alice" }) },
  ];
  const common = { messages, max_tokens: 3, temperature: 0.5, top_p: 0.9, top_k: 5, stream };
  if (route === "/llm") return { ...common, model: "" };
  return {
    ...common,
    model: MODEL,
    max_completion_tokens: 3,
    n: 1,
    seed: 7,
    stop: ["\n\n"],
    presence_penalty: 0,
    frequency_penalty: 0,
    logit_bias: { "50256": -1 },
    user: "u-1",
    // vLLM refuses stream_options on a non-streaming request (400).
    ...(stream ? { stream_options: { include_usage: true } } : {}),
  };
}

/** Paths into baseBody where a value can go: top-level fields, message fields, nested values. */
function fieldPaths(route: Route): string[][] {
  const top = Object.keys(baseBody(route, false)).filter((k) => k !== "messages");
  const nested =
    route === "/llm"
      ? []
      : [
          ["stop", "0"],
          ["logit_bias", "50256"],
          ["stream_options", "include_usage"],
        ];
  const message = ["role", "content", ...(route === "/llm" ? [] : ["name"])].map((k) => ["messages", "1", k]);
  return [...top.map((k) => [k]), ...nested, ...message, ["messages", "0", "content"]];
}

const MARKER = "\u0001FUZZ\u0001";

/** A string that is not well-formed Unicode, as a client would escape it in JSON. */
const surrogateText = fc
  .tuple(
    fc.string({ maxLength: 6 }),
    fc.constantFrom("\ud800", "\udbff", "\udc00", "\udfff", "\u0000\ud800", "\ud83d", "\ude00"),
    fc.string({ maxLength: 6 }),
  )
  .map(([a, s, b]) => JSON.stringify(`${a}${s}${b}`));
const nulText = fc
  .tuple(fc.string({ maxLength: 6 }), fc.constantFrom("\u0000", "\u0000\u0000", "\u0007\u0000\u001f"))
  .map(([a, n]) => JSON.stringify(`${a}${n}user`));
/** JSON number literals past what a double holds exactly (or at all). */
const hugeNumber = fc.constantFrom(
  "1e400",
  "-1e400",
  "1e30",
  "-1e30",
  "9007199254740993",
  "18446744073709551616",
  "1.7976931348623157e308",
  "-99999999999999999999999",
);

/** The body with `raw` (JSON text) at `path`. */
function bodyWith(route: Route, stream: boolean, path: string[], raw: string): string {
  const body = baseBody(route, stream || path[0] === "stream_options");
  let at: Record<string, unknown> = body;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
  at[path[path.length - 1] as string] = MARKER;
  return JSON.stringify(body).replace(JSON.stringify(MARKER), () => raw);
}

/** The error message in the route's shape: detail.msg or FastAPI's detail list on /llm, error.message on /v1. */
function errorMessage(route: Route, text: string): string | null {
  try {
    const body = JSON.parse(text) as { detail?: unknown; error?: { message?: unknown } };
    if (route !== "/llm") return typeof body.error?.message === "string" ? body.error.message : null;
    if (Array.isArray(body.detail))
      return body.detail.map((d: { msg?: string }) => d.msg ?? "").join("; ") || null;
    const msg = (body.detail as { msg?: unknown } | undefined)?.msg;
    return typeof msg === "string" && msg !== "" ? msg : null;
  } catch {
    return null;
  }
}

interface Answer {
  status: number;
  text: string;
  shown: string;
}

async function send(route: Route, body: string): Promise<Answer> {
  const stream = (JSON.parse(body) as { stream?: unknown }).stream === true;
  tally.tried++;
  const res = await call(runner.url, route, body, { timeoutMs: 20_000 });
  const shown = `${route} ${body.slice(0, 400)} → ${res.status}: ${res.text.slice(0, 300)}`;
  if (res.status === null) throw new Error(`no answer (${res.error}) for ${shown}`);
  if (res.status >= 500) tally.fivexx++;
  else if (res.status >= 400) tally.fourxx++;
  else tally.ok++;
  // A 4xx has a message in the route's shape; a 200 stream ends properly; a 200 answer is JSON.
  let problem: string | null = null;
  if (res.status >= 400) problem = errorMessage(route, res.text) ? null : "an error without a message";
  else if (!stream) problem = res.contentType.startsWith("application/json") ? null : "not a JSON answer";
  else problem = streamProblem(route, res);
  if (problem !== null) throw new Error(`${problem}: ${shown}`);
  return { status: res.status, text: res.text, shown };
}

describe("surrogates, NULs and oversized numbers in every field: never a 5xx", () => {
  it("a \\u0000\\ud800 model or role is a 400 naming the field", async () => {
    for (const route of ROUTES) {
      for (const path of [["model"], ["messages", "1", "role"]]) {
        const a = await send(route, bodyWith(route, false, path, '"\\u0000\\ud800"'));
        expect(a.status, a.shown).toBe(400);
        expect(a.text, a.shown).toContain(path[path.length - 1] as string);
      }
    }
  });

  it("a lone surrogate in any field, at any depth, on any route is a 4xx naming the field", {
    timeout: 60_000,
  }, async () => {
    const cases = fc.constantFrom(...ROUTES).chain((route) =>
      fc.record({
        route: fc.constant(route),
        stream: fc.boolean(),
        path: fc.constantFrom(...fieldPaths(route)),
        raw: surrogateText,
      }),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ({ route, stream, path, raw }) => {
        const a = await send(route, bodyWith(route, stream, path, raw));
        expect(a.status, a.shown).toBeGreaterThanOrEqual(400);
        expect(a.status, a.shown).toBeLessThan(500);
        expect(a.text, a.shown).toContain(path[0] as string);
      }),
      runs(200),
    );
  });

  it("a NUL in any field is a 4xx, or, inside message text, a clean answer", {
    timeout: 60_000,
  }, async () => {
    const cases = fc.constantFrom(...ROUTES).chain((route) =>
      fc.record({
        route: fc.constant(route),
        stream: fc.boolean(),
        path: fc.constantFrom(...fieldPaths(route)),
        raw: nulText,
      }),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ({ route, stream, path, raw }) => {
        const a = await send(route, bodyWith(route, stream, path, raw));
        expect(a.status, a.shown).toBeLessThan(500);
        const name = path[path.length - 1] as string;
        if (["model", "role", "name"].includes(name)) expect(a.status, a.shown).toBe(400);
      }),
      runs(150),
    );
  });

  it("an oversized number in any field is a 4xx, never a 5xx or a silently changed value", {
    timeout: 60_000,
  }, async () => {
    const cases = fc.constantFrom(...ROUTES).chain((route) =>
      fc.record({
        route: fc.constant(route),
        stream: fc.boolean(),
        path: fc.constantFrom(...fieldPaths(route)),
        raw: hugeNumber,
      }),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ({ route, stream, path, raw }) => {
        const a = await send(route, bodyWith(route, stream, path, raw));
        expect(a.status, a.shown).toBeGreaterThanOrEqual(400);
        expect(a.status, a.shown).toBeLessThan(500);
      }),
      runs(200),
    );
  });

  it("after it all: 0 gateway 5xx, the runner alive and serving, no internal error logged", {
    timeout: 30_000,
  }, async () => {
    expect(tally.fivexx).toBe(0);
    expect(isAlive(runner.pid)).toBe(true);
    for (const route of ROUTES) {
      const a = await send(route, JSON.stringify(baseBody(route, false)));
      expect(a.status, a.shown).toBe(200);
    }
    const internal = readFileSync(join(runner.home, "runner.log"), "utf8")
      .split("\n")
      .filter((l) => /request failed|Internal error|uncaught|unhandled|engine HTTP 5/i.test(l));
    expect(internal.map((l) => l.slice(0, 300))).toEqual([]);
  });
});
