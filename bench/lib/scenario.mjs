// What one `npm run bench` measures: two engine set-ups (ITL 0 for throughput, a realistic ITL for latency),
// the cells of each, the durations of each profile, and the request bodies (identical for every target).

export const LIMITS = {
  maxModelLen: 2048,
  maxNumSeqs: 1024, // ≥ 1,000 streams, so the gateway admits them all at once (no 429)
  maxNumBatchedTokens: 8192, // ≥ maxModelLen and ≥ maxNumSeqs
  queueSize: 1024,
};

/**
 * Durations in ms per cell (json, or stream/latency by concurrency). Workers start spread over the warmup; at
 * 1,000 streams the warmup covers a whole request, so the window sees steady state, not the first burst.
 * `rounds` repeats every cell and reports medians (every target, /llm included). A burst cell sends
 * `concurrency` streams at once, twice: the first opens the connections, the second is measured.
 */
export const PROFILES = {
  full: {
    rounds: 3,
    cells: {
      json: { warmupMs: 400, durationMs: 1_200 },
      stream100: { warmupMs: 800, durationMs: 1_500 },
      stream1000: { warmupMs: 3_000, durationMs: 2_000 },
      latency100: { warmupMs: 1_000, durationMs: 2_500 },
      latency1000: { warmupMs: 3_500, durationMs: 2_500 },
      burst200: { warmupMs: 0, durationMs: 0 },
    },
    drainMs: 20_000,
  },
  quick: {
    rounds: 1,
    cells: {
      json: { warmupMs: 300, durationMs: 700 },
      stream100: { warmupMs: 500, durationMs: 1_000 },
      stream1000: { warmupMs: 2_500, durationMs: 1_200 },
      latency100: { warmupMs: 800, durationMs: 1_500 },
      latency1000: { warmupMs: 3_000, durationMs: 1_500 },
      burst200: { warmupMs: 0, durationMs: 0 },
    },
    drainMs: 20_000,
  },
};

export function cellTiming(timing, cell) {
  return timing.cells[cell.kind === "json" ? "json" : `${cell.kind}${cell.concurrency}`];
}

/** Which cores run what: the load generator, the engines, the proxies (floor, gateway). */
export const LAYOUTS = {
  // The brief's split: load generator alone on core 0, every server on core 1.
  shared: { loadgen: 0, engine: 1, proxy: 1 },
  // The engine stands in for a GPU: it shares core 0 with the load generator, and the proxy has core 1 alone.
  split: { loadgen: 0, engine: 0, proxy: 1 },
};

export const JSON_TOKENS = 16;
export const STREAM_TOKENS = 32;

export const PHASES = [
  {
    name: "throughput",
    why: "engine as fast as it goes (ITL 0, TTFT 0): the proxy's CPU cost decides the rates",
    sim: { itlMs: 0, ttftMs: 0 },
    cells: [
      { kind: "json", concurrency: 1 },
      { kind: "json", concurrency: 16 },
      { kind: "json", concurrency: 64 },
      { kind: "stream", concurrency: 100 },
      { kind: "stream", concurrency: 1000 },
    ],
  },
  {
    name: "latency",
    why: "a realistic engine (ITL 10 ms growing with the batch, TTFT 50 ms): what the proxy adds to each token",
    sim: { itlMs: 10, ttftMs: 50 },
    cells: [
      { kind: "latency", concurrency: 100 },
      { kind: "latency", concurrency: 1000 },
    ],
  },
  {
    name: "burst",
    why:
      "200 streams sent at once over kept-alive connections (ITL 10 ms, TTFT 20 ms): what every request start " +
      "costs in series (the last of a burst waits for all the starts before it)",
    sim: { itlMs: 10, ttftMs: 20 },
    cells: [{ kind: "burst", concurrency: 200 }],
  },
];

export function cellKey(cell) {
  return `${cell.kind} c=${cell.concurrency}`;
}

// 80 plain words: the simulator (echo mode) answers with this text, so /llm (which cannot send ignore_eos)
// still gets exactly max_tokens tokens, cut with finish_reason "length", as /v1 does with ignore_eos.
const PROMPT = Array.from({ length: 80 }, (_, i) => `word${i % 17}`).join(" ");

export function openAiBody(model, maxTokens) {
  return (stream) =>
    JSON.stringify({
      model,
      messages: [{ role: "user", content: PROMPT }],
      max_tokens: maxTokens,
      ignore_eos: true,
      stream,
      ...(stream ? { stream_options: { include_usage: true } } : {}),
    });
}

export function llmBody(maxTokens) {
  return (stream) =>
    JSON.stringify({
      model: "",
      messages: [{ role: "user", content: PROMPT }],
      max_tokens: maxTokens,
      stream,
    });
}
