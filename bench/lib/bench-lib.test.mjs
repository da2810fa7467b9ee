// Unit tests of the bench's own measuring code: `node --test bench/lib/`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { areaOf, summarizeProfile } from "./cpu-profile.mjs";
import { SseReader } from "./sse-reader.mjs";
import { medianOf, percentile, summarize } from "./stats.mjs";

const chunk = (content, extra = {}) =>
  `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }], ...extra })}\n\n`;

test("SseReader times text events across reads split mid-event, and counts usage", () => {
  const r = new SseReader(100);
  const role = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { role: "assistant", content: "" } }] })}\n\n`;
  const first = role + chunk("a");
  r.push(first.slice(0, 30), 110);
  r.push(first.slice(30), 150); // the event completes in this read
  r.push(chunk(" b") + chunk(" c"), 170); // two events in one read: a gap of 0
  r.push(`${chunk("", { usage: { completion_tokens: 3 } })}data: [DONE]\n\n`, 180);
  assert.equal(r.ttft(), 50);
  assert.deepEqual(r.gaps, [20, 0]);
  assert.equal(r.contentEvents, 3);
  assert.equal(r.dataEvents, 5);
  assert.equal(r.usageTokens, 3);
  assert.equal(r.done, true);
  assert.equal(r.error, null);
  assert.equal(r.tpot(200), (200 - 150) / 2);
});

test("SseReader accepts CRLF framing and reports an error chunk", () => {
  const r = new SseReader(0);
  r.push('data: {"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"error"}]}\r\n\r\n', 5);
  assert.equal(r.contentEvents, 1);
  assert.match(r.error, /finish_reason error/);
  assert.equal(r.done, false);
});

test("percentiles interpolate and summaries cover empty samples", () => {
  assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
  assert.equal(percentile([5], 99), 5);
  assert.equal(summarize([]).p50, null);
  const s = summarize([3, 1, 2]);
  assert.deepEqual([s.n, s.p50, s.max, s.mean], [3, 2, 3, 2]);
});

test("medianOf takes medians, sums error counts and merges samples", () => {
  const m = medianOf([
    { reqPerSec: 10, errors: 0, errorSamples: [], ok: true, lat: { p50: 1 } },
    { reqPerSec: 30, errors: 2, errorSamples: ["x"], ok: true, lat: { p50: 3 } },
    { reqPerSec: 20, errors: 1, errorSamples: ["y", "x"], ok: false, lat: { p50: 2 } },
  ]);
  assert.deepEqual(m, { reqPerSec: 20, errors: 3, errorSamples: ["x", "y"], ok: false, lat: { p50: 2 } });
});

test("cpu profile self time is charged to functions, areas and the nearest owning caller", () => {
  const frame = (functionName, url, lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0 });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame("(root)", ""), children: [2, 4] },
      { id: 2, callFrame: frame("relay", "file:///r/dist/gateway/relay.js", 9), children: [3] },
      { id: 3, callFrame: frame("write", "node:internal/streams/writable"), children: [] },
      { id: 4, callFrame: frame("(idle)", ""), children: [] },
    ],
    samples: [2, 3, 3, 4],
    timeDeltas: [0, 1000, 2000, 3000],
  };
  const s = summarizeProfile(profile);
  // Each sample owns the interval after it: relay 1 ms, write 2 + 3 ms; the last (idle) sample has none.
  assert.equal(s.busyMs, 6);
  assert.equal(s.idleMs, 0);
  assert.deepEqual(
    s.functions.map((f) => [f.function, f.selfMs]),
    [
      ["write", 5],
      ["relay", 1],
    ],
  );
  assert.deepEqual(
    s.owners.map((o) => [o.owner, o.ms]),
    [["relay src/gateway/relay.ts:10", 6]],
  );
  assert.equal(
    areaOf("file:///x/node_modules/@hono/node-server/dist/index.mjs", "f"),
    "pkg:@hono/node-server",
  );
});

test("auditLedger finds lost and torn rows, and passes a consistent ledger", async () => {
  const { auditLedger } = await import("./ledger-audit.mjs");
  const { default: Database } = await import("better-sqlite3");
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "ledger-audit-"));
  const path = join(dir, "ledger.sqlite");
  const db = new Database(path);
  db.exec(`CREATE TABLE requests (id TEXT PRIMARY KEY, ts TEXT, route TEXT, model TEXT, stream INTEGER,
    max_tokens INTEGER, prompt_tokens INTEGER, completion_tokens INTEGER, quote REAL, usage_price REAL,
    currency TEXT, status TEXT, http_status INTEGER, ttft_ms REAL, duration_ms REAL, error TEXT)`);
  const rate = 0.08 / 1e6;
  const add = db.prepare(
    "INSERT INTO requests VALUES (?, ?, '/llm', 'm', 1, ?, 3, ?, ?, ?, 'USD', ?, ?, 1, 5, NULL)",
  );
  const ts = "2026-01-01T00:00:00.000Z";
  add.run("a", ts, 10, 4, 10 * rate, 4 * rate, "ok", 200);
  add.run("b", ts, 10, 2, 10 * rate, 2 * rate, "client_abort", 499);
  add.run("c", ts, 10, 12, 10 * rate, 12 * rate, "ok", 200); // more tokens than max_tokens
  add.run("d", ts, 10, 0, 10 * rate, 0, "engine_error", 200); // error with HTTP 200 is fine (mid-stream)
  db.close();
  try {
    const good = auditLedger(path, new Map([["a", { completionTokens: 4 }]]), rate);
    assert.equal(good.integrity, "ok");
    assert.deepEqual(good.lost, []);
    assert.deepEqual(
      good.torn.map((t) => t.id),
      ["c"],
    );
    const bad = auditLedger(
      path,
      new Map([
        ["a", { completionTokens: 5 }],
        ["b", { completionTokens: null }],
        ["z", { completionTokens: null }],
      ]),
      rate,
      ["b", "y"],
    );
    assert.deepEqual(
      bad.lost.map((l) => l.id),
      ["a", "b", "z", "y"],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
