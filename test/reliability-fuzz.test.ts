import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatConfigIssues } from "../src/config/config-issues.js";
import { ENV_NAMES, SECRET_VARIABLES } from "../src/config/env-schema.js";
import { loadConfig } from "../src/config/load-config.js";
import { isAlive } from "../src/engine/process-group.js";
import { FATAL_REASONS } from "../src/protocol/lifecycle.js";
import { SAMPLERS } from "../src/telemetry/tracing-config.js";
import { assertBuilt, cliEnv, runCli, tempHome } from "./helpers/cli.js";
import {
  authHeaders,
  call,
  type Route,
  type Runner,
  startRunner,
  stopAllRunners,
  TOKEN,
} from "./helpers/load.js";

// Bad input never gets a 5xx, never crashes the runner, and always gets a 4xx that says what was wrong.
// One runner (built CLI, simulator engine) serves every property; each property is bounded in runs and time.

const MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct";
const BODY_LIMIT = 64 * 1024;
const ROUTES: Route[] = ["/llm", "/v1/chat/completions"];
// Fixed seed per run of the suite would hide new cases; print it so a failure can be replayed.
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2_147_483_647);
const runs = (n: number) => ({ numRuns: n, seed, interruptAfterTimeLimit: 12_000, endOnFailure: true });

let runner: Runner;
let tried = 0;
beforeAll(async () => {
  assertBuilt();
  runner = await startRunner({ MAX_BODY_BYTES: String(BODY_LIMIT), MAX_NUM_SEQS: "64" });
}, 60_000);
afterAll(async () => {
  console.log(`reliability-fuzz: ${tried} HTTP inputs tried (seed ${seed})`);
  await stopAllRunners();
});

/** The error message of an answer in the route's wire shape, or null when there is none. */
function errorMessage(route: Route, text: string): string | null {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return null;
  }
  if (route === "/llm") {
    const detail = (body as { detail?: unknown }).detail;
    if (Array.isArray(detail)) {
      const msgs = detail.map(
        (d: { msg?: unknown; loc?: unknown }) => `${JSON.stringify(d.loc)} ${String(d.msg)}`,
      );
      return detail.every((d: { msg?: unknown }) => typeof d.msg === "string" && d.msg !== "")
        ? msgs.join("; ")
        : null;
    }
    const msg = (detail as { msg?: unknown } | undefined)?.msg;
    return typeof msg === "string" && msg !== "" ? msg : null;
  }
  const msg = (body as { error?: { message?: unknown } }).error?.message;
  return typeof msg === "string" && msg !== "" ? msg : null;
}

interface Sent {
  route: Route;
  body: string | Buffer;
  contentType?: string | null;
}

/** Sends one bad input; fails unless the answer is a 4xx in the route's error shape. Returns the message. */
async function expectRejected(input: Sent): Promise<string> {
  tried++;
  const headers = authHeaders();
  if (input.contentType === null) delete headers["content-type"];
  else if (input.contentType !== undefined) headers["content-type"] = input.contentType;
  // A fresh connection each time: an answer sent before the body was read may close the connection.
  const res = await call(runner.url, input.route, input.body, { headers, timeoutMs: 15_000, reset: true });
  const shown = `${input.route} ${String(input.body).slice(0, 300)} (${String(input.body.length)} bytes) → ${res.status}: ${res.text.slice(0, 400)}`;
  if (res.status === null) throw new Error(`no answer (${res.error}) for ${shown}`);
  if (res.status < 400 || res.status >= 500) throw new Error(`expected a 4xx for ${shown}`);
  const message = errorMessage(input.route, res.text);
  if (message === null) throw new Error(`a 4xx without a message in the route's error shape: ${shown}`);
  return message;
}

const valid = (route: Route, extra: Record<string, unknown> = {}) =>
  route === "/llm"
    ? { messages: [{ role: "user", content: "hi" }], max_tokens: 2, ...extra }
    : { model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 2, ...extra };

// ---- generators of values that are wrong for a field ----------------------------------------------------

const notString = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 }),
);
const notNumber = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.constant({}),
);
const notBoolean = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.integer(),
  fc.constant(null),
  fc.constant([]),
  fc.constant({}),
);
const notPositiveInt = fc.oneof(
  fc.integer({ max: 0 }),
  fc.double({ min: 1.01, max: 1e6, noNaN: true }).filter((d) => !Number.isInteger(d)),
  fc.string({ maxLength: 10 }),
  fc.boolean(),
  fc.constant({}),
);
const badRole = fc.oneof(
  fc
    .string({ maxLength: 12 })
    .filter((s) => !["system", "user", "assistant", "tool", "developer"].includes(s)),
  notString,
);

/** A /llm body with exactly one field wrong (or the messages missing), and the field's name. */
const badLlmBody = fc.oneof(
  fc.record({
    field: fc.constant("messages"),
    value: fc.oneof(
      fc.constant([]),
      notString.filter((v) => !Array.isArray(v) || v.length > 0),
    ),
  }),
  fc.record({ field: fc.constant("role"), value: badRole }),
  fc.record({ field: fc.constant("content"), value: notString }),
  fc.record({
    field: fc.constant("model"),
    value: fc.oneof(
      notString,
      fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s !== MODEL),
    ),
  }),
  fc.record({
    field: fc.constant("temperature"),
    value: fc.oneof(
      notNumber,
      fc.double({ min: 2.0001, max: 1e9, noNaN: true }),
      fc.double({ min: -1e9, max: -0.0001, noNaN: true }),
    ),
  }),
  fc.record({ field: fc.constant("max_tokens"), value: notPositiveInt }),
  fc.record({
    field: fc.constant("top_p"),
    value: fc.oneof(
      notNumber,
      fc.double({ min: 1.0001, max: 1e9, noNaN: true }),
      fc.double({ min: -1e9, max: -0.0001, noNaN: true }),
    ),
  }),
  fc.record({
    field: fc.constant("top_k"),
    value: fc.oneof(notNumber, fc.constant(0), fc.integer({ max: -2 }), fc.constant(1.5)),
  }),
  fc.record({ field: fc.constant("stream"), value: notBoolean }),
  fc.record({ field: fc.constant("missing messages"), value: fc.constant(undefined) }),
);

/** A /v1/chat/completions body with one field wrong. */
const badV1Body = fc.oneof(
  fc.record({
    field: fc.constant("messages"),
    value: fc.oneof(
      fc.constant([]),
      notString.filter((v) => !Array.isArray(v) || v.length > 0),
    ),
  }),
  fc.record({ field: fc.constant("role"), value: badRole }),
  fc.record({
    field: fc.constant("content"),
    value: fc.oneof(fc.integer(), fc.boolean(), fc.constant({ a: 1 })),
  }),
  // vLLM's model is optional (null = the served model), so null is valid on /v1.
  fc.record({
    field: fc.constant("model"),
    value: fc.oneof(
      notString.filter((v) => v !== null),
      fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s !== MODEL),
    ),
  }),
  fc.record({
    field: fc.constant("temperature"),
    value: fc.oneof(
      fc.string({ maxLength: 6 }),
      fc.double({ min: 2.0001, max: 1e9, noNaN: true }),
      fc.double({ min: -1e9, max: -0.0001, noNaN: true }),
    ),
  }),
  fc.record({ field: fc.constant("max_tokens"), value: notPositiveInt }),
  fc.record({ field: fc.constant("max_completion_tokens"), value: notPositiveInt }),
  fc.record({
    field: fc.constant("n"),
    value: fc.oneof(fc.integer({ min: 2, max: 100 }), fc.integer({ max: 0 }), fc.string({ maxLength: 4 })),
  }),
  // OpenAI's stream is a nullable boolean: null is valid on /v1 (unlike /llm's contract).
  fc.record({ field: fc.constant("stream"), value: notBoolean.filter((v) => v !== null) }),
  fc.record({
    field: fc.constant("stream_options"),
    value: fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant([1])),
  }),
  fc.record({ field: fc.constant("missing messages"), value: fc.constant(undefined) }),
);

function applyBad(route: Route, field: string, value: unknown): Record<string, unknown> {
  const body = valid(route);
  const message = (body.messages as Array<Record<string, unknown>>)[0] as Record<string, unknown>;
  if (field === "missing messages") delete (body as Record<string, unknown>).messages;
  else if (field === "role") message.role = value;
  else if (field === "content") message.content = value;
  else (body as Record<string, unknown>)[field] = value;
  return body;
}

/** Valid JSON text with `depth` levels of arrays (a parser or serializer that recurses blows its stack). */
const deep = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

describe("bad HTTP input: always a 4xx with a message, never a 5xx, and the runner keeps serving", () => {
  for (const route of ROUTES) {
    it(`${route}: a body with one wrong or missing field gets a 4xx naming that field`, {
      timeout: 30_000,
    }, async () => {
      await fc.assert(
        fc.asyncProperty(route === "/llm" ? badLlmBody : badV1Body, async ({ field, value }) => {
          const message = await expectRejected({
            route,
            body: JSON.stringify(applyBad(route, field, value)),
          });
          const name = field === "missing messages" ? "messages" : field;
          // The message must point at the field, and must not call a field that was sent "required".
          expect(message, `message for a bad ${name}`).toContain(name);
          if (field !== "missing messages") {
            expect(message, `a ${name} that was sent is not missing`).not.toMatch(/required|missing/i);
          }
        }),
        runs(150),
      );
    });
  }

  it("random JSON values, random text, truncated JSON and random bytes get a 4xx", {
    timeout: 40_000,
  }, async () => {
    const validText = JSON.stringify(valid("/llm"));
    const garbage = fc.oneof(
      fc
        .jsonValue()
        .filter((v) => typeof v !== "object" || v === null || Array.isArray(v) || !("messages" in v))
        .map((v) => JSON.stringify(v)),
      fc.string({ minLength: 1, maxLength: 200 }).filter((s) => s.trim() !== ""),
      fc.integer({ min: 1, max: validText.length - 1 }).map((n) => validText.slice(0, n)),
      fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.constant(""),
      fc.constant("   "),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), garbage, async (route, body) => {
        await expectRejected({ route, body });
      }),
      runs(300),
    );
  });

  it("invalid UTF-8 inside an otherwise valid request gets a 400, not a silently altered prompt", {
    timeout: 30_000,
  }, async () => {
    const invalidUtf8 = fc.constantFrom(
      [0xff],
      [0xfe, 0xff],
      [0xc3], // a lead byte without its continuation
      [0x80], // a lone continuation byte
      [0xed, 0xa0, 0x80], // an encoded surrogate
      [0xf8, 0x88, 0x80, 0x80, 0x80], // a 5-byte form
      [0xc0, 0xaf], // an overlong "/"
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        invalidUtf8,
        fc.string({ maxLength: 10 }),
        async (route, bad, text) => {
          const [head, tail] = JSON.stringify(
            valid(route, { messages: [{ role: "user", content: `${text}\u0000SPLIT` }] }),
          ).split("\\u0000SPLIT");
          const body = Buffer.concat([
            Buffer.from(head as string),
            Buffer.from(bad),
            Buffer.from(tail as string),
          ]);
          const message = await expectRejected({ route, body });
          expect(message).toMatch(/utf-?8|encod|json/i);
        },
      ),
      runs(40),
    );
  });

  it("deep nesting, huge strings and huge arrays get a 4xx", { timeout: 30_000 }, async () => {
    // Generated as sizes (so a counterexample prints small) and built inside the property.
    const shapes = {
      deepContent: (n: number) => ({ where: "content", raw: deep(n) }),
      deepMessages: (n: number) => ({ where: "messages", raw: `[${deep(n)}]` }),
      deepTemperature: (n: number) => ({ where: "temperature", raw: deep(n) }),
      hugeString: (n: number) => ({ where: "content", raw: JSON.stringify("x".repeat(n)) }),
      hugeArray: (n: number) => ({ where: "messages", raw: `[${Array(n).fill("1").join(",")}]` }),
      manyParts: (n: number) => ({
        where: "content",
        raw: `[${Array(n).fill('{"type":"text"}').join(",")}]`,
      }),
    };
    const huge = fc.oneof(
      fc.tuple(
        fc.constantFrom("deepContent", "deepMessages", "deepTemperature"),
        fc.integer({ min: 1_000, max: 30_000 }),
      ),
      fc.tuple(fc.constant("hugeString"), fc.integer({ min: BODY_LIMIT + 1, max: BODY_LIMIT * 3 })),
      fc.tuple(fc.constant("hugeArray"), fc.integer({ min: 10_000, max: 60_000 })),
      fc.tuple(fc.constant("manyParts"), fc.integer({ min: 1_000, max: 3_000 })),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), huge, async (route, [shape, size]) => {
        const { where, raw } = shapes[shape as keyof typeof shapes](size);
        const marker = "\u0001HERE";
        const body = JSON.stringify(applyBad(route, where, marker)).replace(JSON.stringify(marker), raw);
        await expectRejected({ route, body });
      }),
      runs(40),
    );
  });

  it("odd content types with bad bodies, and oversized bodies (with and without Content-Length) get a 4xx", {
    timeout: 30_000,
  }, async () => {
    const contentType = fc.oneof(
      fc.constantFrom(
        null,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin1",
        "image/png",
        "*/*",
        "",
      ),
      fc.string({ maxLength: 30 }).filter((s) => /^[\x21-\x7e ]*$/.test(s)),
    );
    const badBody = fc.oneof(
      fc.constant("a=1&b=2"),
      fc.constant("--x\r\nContent-Disposition: form-data\r\n\r\n1\r\n--x--"),
      fc.constant("{}"),
      fc.constant("[]"),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), contentType, badBody, async (route, type, body) => {
        await expectRejected({ route, body, contentType: type });
      }),
      runs(60),
    );
    for (const route of ROUTES) {
      const big = JSON.stringify(
        valid(route, { messages: [{ role: "user", content: "y".repeat(BODY_LIMIT) }] }),
      );
      const message = await expectRejected({ route, body: big });
      expect(message).toContain("MAX_BODY_BYTES");
      // Chunked (no Content-Length): the limit must hold while the body streams in.
      const chunked = await rawExchange(
        `POST ${route} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n` +
          `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(big)}${chunk(big)}0\r\n\r\n`,
      );
      tried++;
      // /llm folds 413 into 400: go-livepeer reads only 400/401/500 as errors.
      const status = route === "/llm" ? 400 : 413;
      expect(chunked.statusLine, chunked.raw.slice(0, 300)).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    }
  });

  it("odd Content-Length and malformed HTTP get a 4xx from the server and never bring it down", {
    timeout: 30_000,
  }, async () => {
    const token = `Bearer ${TOKEN}`;
    const body = JSON.stringify(valid("/llm"));
    const cases = [
      `POST /llm HTTP/1.1\r\nHost: x\r\nAuthorization: ${token}\r\nContent-Length: abc\r\n\r\n${body}`,
      `POST /llm HTTP/1.1\r\nHost: x\r\nAuthorization: ${token}\r\nContent-Length: -5\r\n\r\n${body}`,
      `POST /llm HTTP/1.1\r\nHost: x\r\nAuthorization: ${token}\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n${body}`,
      `POST /llm HTTP/1.1\r\nHost: x\r\nAuthorization: ${token}\r\nContent-Length: 10\r\n\r\n${body}`, // shorter than the body
      `POST /llm HTTP/1.1\r\nHost: x\r\nAuthorization: ${token}\r\nContent-Length: ${BODY_LIMIT * 100}\r\n\r\n${body}`,
      `POST /llm HTTP/1.1\r\nHost: x\r\nAuthorization: ${token}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `POST /llm HTTP/1.1\r\nHost: x\r\nAuthorization: ${token}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`,
      `POST /llm HTTP/1.1\r\nHost: x\r\nAuthorization: ${token}\r\nX-Bad\u0001Header: 1\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      `POST /llm HTTP/1.1\r\nHost: x\r\n${"X-Pad: a\r\n".repeat(5_000)}\r\n`,
      `POST /llm HTTP/9.9\r\nHost: x\r\n\r\n`,
      `BREW /llm HTTP/1.1\r\nHost: x\r\n\r\n`,
      `\u0000\u0001\u0002garbage\r\n\r\n`,
    ];
    for (const raw of cases) {
      tried++;
      const res = await rawExchange(raw);
      expect(res.statusLine, `for ${JSON.stringify(raw.slice(0, 120))}: ${res.raw.slice(0, 200)}`).toMatch(
        /^HTTP\/1\.[01] 4\d\d /,
      );
    }
  });

  it("after all of it the runner is alive, logged no internal error, and serves a valid request", {
    timeout: 30_000,
  }, async () => {
    expect(isAlive(runner.pid)).toBe(true);
    for (const route of ROUTES) {
      const ok = await call(runner.url, route, JSON.stringify(valid(route)));
      expect(ok.status, ok.text).toBe(200);
    }
    // A client hanging up mid-body (ECONNRESET) is not an internal error; anything else logged as one is.
    const internal = readFileSync(join(runner.home, "runner.log"), "utf8")
      .split("\n")
      .filter(
        (l) => /request failed|Internal error|uncaught|unhandled/i.test(l) && !l.includes("ECONNRESET"),
      );
    expect(internal.map((l) => l.slice(0, 400))).toEqual([]);
  });
});

function chunk(s: string): string {
  return `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
}

/** Writes raw bytes to the runner, returns the first status line and what came back (bounded in time). */
function rawExchange(data: string): Promise<{ statusLine: string; raw: string }> {
  return new Promise((resolve) => {
    const socket = connect(runner.port, "127.0.0.1");
    let raw = "";
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ statusLine: raw.split("\r\n")[0] ?? "", raw });
    };
    const timer = setTimeout(finish, 5_000);
    socket.on("connect", () => socket.write(data));
    socket.on("data", (d) => {
      raw += d.toString("latin1");
      if (/\r\n\r\n/.test(raw)) setTimeout(finish, 100);
    });
    socket.on("error", finish);
    socket.on("close", finish);
  });
}

// ---- config and CLI -------------------------------------------------------------------------------------

/** Values that break each variable's rule (the variable's own rule, not a cross-variable one). */
function garbageFor(name: string): fc.Arbitrary<string> {
  // An empty OTEL_* value is the same as unset (OpenTelemetry's SDK environment variables spec): valid.
  return name.startsWith("OTEL_") ? rawGarbageFor(name).filter((s) => s !== "") : rawGarbageFor(name);
}

function rawGarbageFor(name: string): fc.Arbitrary<string> {
  const letters = fc
    .string({ minLength: 1, maxLength: 12 })
    .filter((s) => /[^\d\s.]/.test(s.trim()) && s.trim() !== "");
  const withSpace = fc
    .tuple(fc.string({ maxLength: 6 }), fc.constantFrom(" ", "\n", "\t"), fc.string({ maxLength: 6 }))
    .map(([a, ws, b]) => `x${a}${ws}${b}`);
  const ints: Record<string, { min: number; max?: number }> = {
    PIPELINE_PARALLEL_SIZE: { min: 1, max: 1024 },
    TENSOR_PARALLEL_SIZE: { min: 1, max: 1024 },
    MAX_MODEL_LEN: { min: 1 },
    MAX_NUM_BATCHED_TOKENS: { min: 1 },
    MAX_NUM_SEQS: { min: 1 },
    PORT: { min: 1, max: 65535 },
    QUEUE_SIZE: { min: 0 },
    MAX_BODY_BYTES: { min: 1 },
    ENGINE_PORT: { min: 0, max: 65535 },
    PIXELS_PER_UNIT: { min: 1 },
    SIM_CRASH_AFTER: { min: 0 },
    SIM_HANG_AFTER: { min: 0 },
    SIM_KV_TOKENS: { min: 1 },
    SIM_WAKE_FAIL: { min: 1 },
    MAX_CONNECTIONS: { min: 1 },
    ENGINE_CRASH_LOOP_LIMIT: { min: 1, max: 100 },
    PULL_CONCURRENCY: { min: 1, max: 64 },
  };
  const decimals: Record<string, { low: string; high?: string }> = {
    GPU_MEMORY_UTILIZATION: { low: "0", high: "1.5" },
    PRICE_PER_UNIT: { low: "-0.5" },
    ENGINE_STALL_TIMEOUT: { low: "0" },
    ENGINE_HANG_TIMEOUT: { low: "0" },
    CLIENT_WRITE_TIMEOUT: { low: "-1", high: "86401" },
    ENGINE_CANARY_INTERVAL: { low: "-1", high: "86401" },
    ENGINE_CANARY_TIMEOUT: { low: "0", high: "86401" },
    ENGINE_HEALTHY_RESET: { low: "0", high: "604801" },
    DRAIN_TIMEOUT: { low: "-1" },
    ENGINE_STOP_GRACE: { low: "-1" },
    SIM_TTFT_MS: { low: "-3" },
    SIM_ITL_MS: { low: "-3" },
    SIM_LOAD_SECONDS: { low: "-3" },
    SIM_ERROR_RATE: { low: "-0.1", high: "1.01" },
    SIM_PREFILL_TPS: { low: "-3" },
    SIM_SLEEP_SECONDS: { low: "-3" },
    SIM_WAKE_SECONDS: { low: "-3" },
    SIM_WEIGHTS_GIB: { low: "-3" },
    OTEL_TRACES_SAMPLER_ARG: { low: "-0.1", high: "1.5" },
    MODEL_IDLE_SLEEP: { low: "-1", high: "604801" },
    MODEL_WAKE_TIMEOUT: { low: "0", high: "3601" },
  };
  const enums: Record<string, string[]> = {
    USE_8BIT: ["true", "false"],
    METRICS_AUTH: ["true", "false"],
    ENABLE_PROMPT_TOKENS_DETAILS: ["true", "false"],
    LIVE_RUNNER_TLS_INSECURE: ["true", "false"],
    ENGINE: ["vllm", "sim"],
    DRIVER: ["docker", "process"],
    ROUTER: ["prefix", "least-in-flight", "round-robin"],
    LOG_LEVEL: ["trace", "debug", "info", "warn", "error"],
    SIM_MODE: ["echo", "lorem"],
    DISTRIBUTED_EXECUTOR: ["mp", "ray"],
    SIM_FAIL_START: [...FATAL_REASONS],
    OTEL_TRACES_SAMPLER: [...SAMPLERS],
  };
  const int = ints[name];
  if (int) {
    const out = [
      letters,
      fc.integer({ min: 1, max: 1e6 }).map((n) => `-${n}`),
      fc.integer({ min: 0, max: 1000 }).map((n) => `${n}.5`),
      fc.constantFrom("", "  ", "1e3", "0x10", "99999999999999999999", "8k", "+3"),
    ];
    if (int.min === 1) out.push(fc.constant("0"));
    if (int.max !== undefined) out.push(fc.integer({ min: int.max + 1, max: int.max * 10 }).map(String));
    return fc.oneof(...out);
  }
  const dec = decimals[name];
  if (dec) {
    return fc.oneof(
      letters,
      fc.constantFrom(
        "",
        "50%",
        "1e3",
        "NaN",
        "Infinity",
        "0x1",
        "1,5",
        dec.low,
        ...(dec.high ? [dec.high] : []),
      ),
    );
  }
  if (name in enums) {
    const allowed = new Set((enums[name] as string[]).map((s) => s.toLowerCase()));
    return fc
      .oneof(fc.string({ maxLength: 12 }), fc.constantFrom("1", "yes", "on", "", "VLLMX"))
      .filter((s) => !allowed.has(s.trim().toLowerCase()));
  }
  switch (name) {
    case "GPU_IDS":
      return fc.oneof(
        letters.filter((s) => /[^\d,\s]/.test(s) && s.trim().toLowerCase() !== "all"),
        fc.constantFrom("", "0,0", "-1", "1,,2", "0;1", "1.5"),
      );
    case "CURRENCY":
      return fc.oneof(
        fc.constantFrom("", "US D", "12", "€", "TOOLONGCURRENCY"),
        fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !/^[A-Za-z]{1,10}$/.test(s.trim())),
      );
    case "HOST":
    case "LLM_RUNNER_MODELS_FILE":
    case "ENGINE_IMAGE":
    case "PYTHON":
      return fc.oneof(fc.constant(""), withSpace);
    case "AUTH_TOKEN":
      return fc.oneof(fc.constant(""), withSpace);
    case "HF_TOKEN":
      return withSpace;
    case "REPLICAS":
      // A whole number from 1 to 64, or "auto".
      return fc.oneof(
        letters.filter((s) => s.trim().toLowerCase() !== "auto"),
        fc.constantFrom("", "0", "-1", "65", "1.5", "1e1", "auto-2", "two"),
      );
    case "GATEWAY_WORKERS":
      // A whole number from 1 to 32, or "auto".
      return fc.oneof(
        letters.filter((s) => s.trim().toLowerCase() !== "auto"),
        fc.constantFrom("", "0", "-1", "33", "1.5", "2e1", "auto-1", "all"),
      );
    case "RAY_ADDRESS":
      return withSpace;
    case "HF_ENDPOINT":
      // Anything that is not an http(s) URL.
      return fc.oneof(
        letters.filter((s) => !/^https?:/i.test(s.trim())),
        fc.constantFrom("", "huggingface.co", "ftp://hub.example", "https//huggingface.co", "://x"),
      );
    case "RUNNER_VERSION":
      return fc.oneof(
        fc.constantFrom("", "v0.14.1", "0.14", "1.2.3.4", "01.2.3", "0.14.1-", "latest"),
        letters.filter((s) => !/^\d+\.\d+\.\d+/.test(s.trim())),
      );
    case "CORS_ORIGINS":
      // "*" and "" are valid (any origin, off); anything that is not a list of scheme://host[:port] is not.
      return fc.oneof(
        letters.filter((s) => s.trim() !== "*"),
        fc.constantFrom(
          "*,https://a.example",
          "https://a.example/",
          "https://a.example/app",
          "ftp://a.example",
          "a.example",
        ),
      );
    case "LIVE_RUNNER_ORCH_URL":
    case "LIVE_RUNNER_URL":
      // An absolute http(s) URL without credentials, query or fragment; nothing else.
      return fc.oneof(
        letters.filter((s) => !/^https?:\/\/./i.test(s.trim())),
        fc.constantFrom(
          "",
          "orch:8935",
          "ftp://orch.example",
          "http://u:p@orch.example",
          "http://o.example/?x=1",
          "http://o.example/#a",
        ),
      );
    case "LIVE_RUNNER_SECRET":
      // Whatever go-livepeer could compare byte for byte: no whitespace, not empty.
      return fc.oneof(withSpace, fc.constant(""));
    case "LIVE_RUNNER_MODE":
      return letters.filter(
        (s) => !["single-shot", "single_shot", "persistent"].includes(s.trim().toLowerCase()),
      );
    case "LIVE_RUNNER_PRICE_USD_PER_HOUR":
      // A positive decimal, or "auto".
      return fc.oneof(
        letters.filter((s) => s.trim().toLowerCase() !== "auto"),
        fc.constantFrom("", "0", "-1", "1e3", "$2", "2.5/h"),
      );
    case "LIVE_RUNNER_LABEL":
    case "LIVE_RUNNER_APP":
      // Trimmed, not empty, no control characters, not too long.
      return fc.oneof(
        fc.constantFrom("", "   ", " a", "b ", "a\u0001b", "x".repeat(300)),
        fc.string({ maxLength: 6 }).map((s) => ` ${s}x`),
      );
    case "ALLOWED_HOSTS":
      // Host names, comma-separated (empty is valid); "*", URLs, ports and other characters are not.
      return fc.oneof(
        fc.constantFrom("*", "http://runner.lan", "runner.lan:8000", "a..b", "-x", "runner.lan/", "a b"),
        fc.string({ maxLength: 10 }).map((s) => `x${s}!`),
      );
    case "MODEL_ID":
      return fc.oneof(
        fc.constantFrom("", "   ", "bad id", "a b/c", "model!", "-leading"),
        fc
          .string({ minLength: 1, maxLength: 10 })
          .map((s) => `x${s}!`)
          .filter((s) => !s.includes("/")),
      );
    case "MODEL_DIR":
      return fc
        .string({ minLength: 1, maxLength: 8 })
        .filter((s) => !s.includes("/") && s.trim() === s)
        .map((s) => `~${s}`);
    case "LLM_RUNNER_HOME":
      return fc.oneof(
        fc.constantFrom("", "   "),
        fc
          .string({ minLength: 1, maxLength: 8 })
          .filter((s) => !s.includes("/") && s.trim() === s)
          .map((s) => `~${s}`),
      );
    case "OTEL_EXPORTER_OTLP_ENDPOINT":
    case "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":
      // Not an http(s) URL, or one with a query or fragment ("" is unset, as for every OTEL_* variable).
      return fc.oneof(
        letters.filter((s) => !/^https?:\/\/./i.test(s.trim())),
        fc.constantFrom("collector:4318", "grpc://collector:4317", "http://c:4318/?x=1", "http://c:4318/#a"),
      );
    case "OTEL_EXPORTER_OTLP_HEADERS":
      // key=value pairs: an entry without "=", an empty entry, a name that is not an HTTP token, bad %-encoding.
      return fc.oneof(
        fc.constantFrom("novalue", "a=1,,b=2", ",", "bad name=1", "=v", "k=%zz", "k=1,"),
        fc.string({ minLength: 1, maxLength: 8 }).map((s) => `${s.replace(/=/g, "")} x`),
      );
    case "OTEL_SERVICE_NAME":
      return fc.oneof(
        fc.constantFrom("   ", " a", "b ", "a\u0001b", "x".repeat(300)),
        fc.string({ maxLength: 6 }).map((s) => ` ${s}x`),
      );
    default:
      throw new Error(`no garbage generator for ${name}: add one (every variable must be fuzzed)`);
  }
}

describe("bad configuration: exit code 2 and a line naming the variable", () => {
  const base = {
    HOME: "/tmp",
    ENGINE: "sim",
    DRIVER: "process",
    MAX_MODEL_LEN: "4096",
    MAX_NUM_BATCHED_TOKENS: "4096",
  };
  let configInputs = 0;
  afterAll(() => console.log(`reliability-fuzz: ${configInputs} config inputs tried`));

  it("every variable has a garbage generator (none is left unfuzzed)", () => {
    for (const name of ENV_NAMES) expect(() => garbageFor(name), name).not.toThrow();
  });

  it("garbage in any set of variables: loadConfig fails, naming every one of them, secrets masked", {
    timeout: 30_000,
  }, async () => {
    const assignment = fc
      .uniqueArray(fc.constantFrom(...ENV_NAMES), { minLength: 1, maxLength: 4 })
      .chain((names) => fc.tuple(...names.map((n) => garbageFor(n).map((v) => [n, v] as const))));
    await fc.assert(
      fc.asyncProperty(assignment, async (pairs) => {
        configInputs++;
        const env = { ...base, ...Object.fromEntries(pairs) };
        const result = await loadConfig({ env, cwd: "/tmp" });
        const shown = JSON.stringify(pairs);
        expect(result.ok, `accepted ${shown}`).toBe(false);
        if (result.ok) return;
        const text = formatConfigIssues(result.issues);
        for (const [name, value] of pairs) {
          expect(
            result.issues.some((i) => i.variable === name && i.message.length > 10),
            `${name} not named for ${shown}:\n${text}`,
          ).toBe(true);
          if (SECRET_VARIABLES.has(name) && value.trim().length > 3) expect(text).not.toContain(value);
        }
      }),
      { numRuns: 400, seed, endOnFailure: true },
    );
  });

  it("through the binary: bad variables and bad flags exit 2 with a line naming them", {
    timeout: 40_000,
  }, async () => {
    assertBuilt();
    const { home, cleanup } = tempHome("llmr-fuzz-cli-");
    try {
      const env = (extra: Record<string, string>) =>
        cliEnv(home, { ENGINE: "sim", DRIVER: "process", HOST: "127.0.0.1", ...extra });
      const cases: Array<{ args: string[]; extra?: Record<string, string>; names: string[] }> = [
        {
          args: ["start"],
          extra: { PORT: "eighty", MAX_NUM_SEQS: "-1", USE_8BIT: "maybe" },
          names: ["PORT", "MAX_NUM_SEQS", "USE_8BIT"],
        },
        { args: ["check"], extra: { GPU_MEMORY_UTILIZATION: "97%" }, names: ["GPU_MEMORY_UTILIZATION"] },
        { args: ["flags"], extra: { TENSOR_PARALLEL_SIZE: "1.5" }, names: ["TENSOR_PARALLEL_SIZE"] },
        { args: ["start", "--max-num-seqs=zero"], names: ["--max-num-seqs"] },
        { args: ["start", "--port"], names: ["--port"] },
        { args: ["check", "--engine", "tpu"], names: ["--engine"] },
        { args: ["start", "--bogus-flag"], names: ["--bogus-flag"] },
        { args: ["status", "--nope"], names: ["--nope"] },
        { args: ["usage", "--since", "yesterday-ish"], names: ["--since"] },
        { args: ["stop", "--timeout", "soon"], names: ["--timeout"] },
        { args: ["no-such-command"], names: ["no-such-command"] },
      ];
      for (const c of cases) {
        configInputs++;
        const res = await runCli(c.args, env(c.extra ?? {}), 20_000);
        const shown = `llm-runner ${c.args.join(" ")} ${JSON.stringify(c.extra ?? {})}: exit ${res.code}\n${res.stderr}`;
        expect(res.code, shown).toBe(2);
        for (const n of c.names) expect(res.stderr + res.stdout, shown).toContain(n);
      }
    } finally {
      cleanup();
    }
  });
});
