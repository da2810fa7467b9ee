import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isAlive } from "../src/engine/process-group.js";
import { assertBuilt } from "./helpers/cli.js";
import { call, type Runner, startRunner, stopAllRunners } from "./helpers/load.js";

// Escaped lone surrogates, NULs and oversized numbers in every field
// of /v1/completions and /v1/responses end in a 4xx naming the field (or, where legal, a clean answer) — never a
// 5xx. One runner (built CLI, simulator engine); the same rules as reliability-fuzz-unicode.test.ts.

const MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct";
type Route = "/v1/completions" | "/v1/responses";
const ROUTES: Route[] = ["/v1/completions", "/v1/responses"];
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2_147_483_647);
const runs = (n: number) => ({ numRuns: n, seed, interruptAfterTimeLimit: 20_000, endOnFailure: true });

let runner: Runner;
const tally = { tried: 0, fourxx: 0, ok: 0, fivexx: 0 };
beforeAll(async () => {
  assertBuilt();
  runner = await startRunner({ MAX_NUM_SEQS: "64" });
}, 60_000);
afterAll(async () => {
  console.log(
    `reliability-fuzz-openai-routes: ${tally.tried} inputs (seed ${seed}): ${tally.fourxx} 4xx, ${tally.ok} 200, ${tally.fivexx} 5xx`,
  );
  await stopAllRunners();
});

/** Every field a client sends on the route, with a base value that the route accepts. */
function baseBody(route: Route, stream: boolean): Record<string, unknown> {
  if (route === "/v1/completions") {
    return {
      model: MODEL,
      prompt: "Once upon a time",
      max_tokens: 3,
      temperature: 0.5,
      top_p: 0.9,
      stop: ["\n\n"],
      seed: 7,
      user: "u-1",
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
    };
  }
  return {
    model: MODEL,
    input: [{ role: "user", content: "hi" }],
    instructions: "be brief",
    max_output_tokens: 3,
    temperature: 0.5,
    top_p: 0.9,
    user: "u-1",
    stream,
  };
}

function fieldPaths(route: Route): string[][] {
  const top = Object.keys(baseBody(route, false)).map((k) => [k]);
  if (route === "/v1/completions") return [...top, ["stop", "0"]];
  return [...top, ["input", "0", "role"], ["input", "0", "content"]];
}

const MARKER = "\u0001FUZZ\u0001";

function bodyWith(route: Route, stream: boolean, path: string[], raw: string): string {
  const body = baseBody(route, stream);
  let at: Record<string, unknown> = body;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
  at[path[path.length - 1] as string] = MARKER;
  return JSON.stringify(body).replace(JSON.stringify(MARKER), () => raw);
}

const surrogateText = fc
  .tuple(
    fc.string({ maxLength: 6 }),
    fc.constantFrom("\ud800", "\udbff", "\udc00", "\udfff", "\u0000\ud800", "\ud83d"),
    fc.string({ maxLength: 6 }),
  )
  .map(([a, s, b]) => JSON.stringify(`${a}${s}${b}`));
const nulText = fc
  .tuple(fc.string({ maxLength: 6 }), fc.constantFrom("\u0000", "\u0007\u0000\u001f"))
  .map(([a, n]) => JSON.stringify(`${a}${n}user`));
const hugeNumber = fc.constantFrom("1e400", "-1e400", "9007199254740993", "18446744073709551616", "-1e30");

interface Answer {
  status: number;
  text: string;
  shown: string;
}

/** A 4xx carries OpenAI's error.message; a 200 is JSON, or a stream that ends as the route's protocol says. */
function problemWith(
  route: Route,
  stream: boolean,
  status: number,
  type: string,
  text: string,
): string | null {
  if (status >= 400) {
    try {
      const msg = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
      return typeof msg === "string" && msg !== "" ? null : "an error without a message";
    } catch {
      return "a non-JSON error";
    }
  }
  if (!stream) return type.startsWith("application/json") ? null : `not a JSON answer (${type})`;
  if (!type.startsWith("text/event-stream")) return `content-type ${type}`;
  // Chat-style streams end in [DONE]; the Responses stream ends with its response.completed (or error) event.
  if (route === "/v1/completions") return text.trimEnd().endsWith("data: [DONE]") ? null : "no [DONE]";
  return /event: (response\.completed|response\.incomplete|response\.failed|error)\n/.test(text)
    ? null
    : "no final Responses event";
}

async function send(route: Route, body: string): Promise<Answer> {
  const stream = (JSON.parse(body) as { stream?: unknown }).stream === true;
  tally.tried++;
  const res = await call(runner.url, route, body, { timeoutMs: 20_000 });
  const shown = `${route} ${body.slice(0, 300)} → ${res.status}: ${res.text.slice(0, 300)}`;
  if (res.status === null) throw new Error(`no answer (${res.error}) for ${shown}`);
  if (res.status >= 500) tally.fivexx++;
  else if (res.status >= 400) tally.fourxx++;
  else tally.ok++;
  if (!res.complete) throw new Error(`the answer broke off: ${shown}`);
  const problem = problemWith(route, stream, res.status, res.contentType, res.text);
  if (problem !== null) throw new Error(`${problem}: ${shown}`);
  return { status: res.status, text: res.text, shown };
}

function cases(raw: fc.Arbitrary<string>) {
  return fc.constantFrom(...ROUTES).chain((route) =>
    fc.record({
      route: fc.constant(route),
      stream: fc.boolean(),
      path: fc.constantFrom(...fieldPaths(route)),
      raw: fc.constant(null).chain(() => raw),
    }),
  );
}

describe("/v1/completions and /v1/responses: surrogates, NULs and oversized numbers never give a 5xx", () => {
  it("the base bodies are served (so every refusal below is about the fuzzed field)", async () => {
    for (const route of ROUTES) {
      for (const stream of [false, true]) {
        const a = await send(route, JSON.stringify(baseBody(route, stream)));
        expect(a.status, a.shown).toBe(200);
      }
    }
  });

  it("a lone surrogate in any field is a 4xx naming the field", { timeout: 45_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(cases(surrogateText), async ({ route, stream, path, raw }) => {
        const a = await send(route, bodyWith(route, stream, path, raw));
        expect(a.status, a.shown).toBeGreaterThanOrEqual(400);
        expect(a.status, a.shown).toBeLessThan(500);
        expect(a.text, a.shown).toContain(path[0] as string);
      }),
      runs(100),
    );
  });

  it("a NUL is a 4xx in a name, and never a 5xx anywhere", { timeout: 45_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(cases(nulText), async ({ route, stream, path, raw }) => {
        const a = await send(route, bodyWith(route, stream, path, raw));
        expect(a.status, a.shown).toBeLessThan(500);
        const name = path[path.length - 1] as string;
        if (["model", "role"].includes(name)) expect(a.status, a.shown).toBe(400);
      }),
      runs(80),
    );
  });

  it("an oversized number in any field is a 4xx", { timeout: 45_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(cases(hugeNumber), async ({ route, stream, path, raw }) => {
        const a = await send(route, bodyWith(route, stream, path, raw));
        expect(a.status, a.shown).toBeGreaterThanOrEqual(400);
        expect(a.status, a.shown).toBeLessThan(500);
      }),
      runs(100),
    );
  });

  it("after it all: 0 gateway 5xx and the runner alive", () => {
    expect(tally.fivexx).toBe(0);
    expect(isAlive(runner.pid)).toBe(true);
  });
});
