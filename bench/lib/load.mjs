// The load generator: a closed loop of `concurrency` workers, each sending one request after another over its
// own keep-alive connection (an undici Pool sized to the concurrency), for warmup + duration, then waiting for
// the requests in flight to end (drain). Workers start spread over the warmup. Only what falls inside the measured window counts toward rates and
// latencies; every request of the cell counts toward errors and the events-in = events-out check.
import { setMaxListeners } from "node:events";
import { performance } from "node:perf_hooks";
import { Pool } from "undici";
import { SseReader } from "./sse-reader.mjs";
import { summarize } from "./stats.mjs";

/**
 * @typedef {object} Target
 * @property {string} name
 * @property {string} origin      e.g. "http://127.0.0.1:8000"
 * @property {string} path        "/v1/chat/completions" or "/llm"
 * @property {Record<string,string>} headers
 * @property {(stream: boolean) => string} body
 */

/**
 * Runs one measurement cell against a target.
 * @param {{target: Target, stream: boolean, concurrency: number, warmupMs: number, durationMs: number,
 *   drainMs: number, expectedTokens?: number, burst?: boolean}} opts
 */
export async function runCell(opts) {
  const { target, stream, concurrency } = opts;
  const pool = new Pool(target.origin, {
    connections: concurrency,
    pipelining: 1,
    headersTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: 60_000,
  });
  const payload = target.body(stream);
  const headers = { "content-type": "application/json", ...target.headers };
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // one listener per request in flight
  const t0 = performance.now();
  let from = t0 + opts.warmupMs;
  let until = from + opts.durationMs;
  const newCell = () => ({
    requests: 0,
    completed: 0,
    errors: 0,
    errorSamples: [],
    inWindowEnded: 0,
    eventsInWindow: 0,
    contentEventsTotal: 0,
    dataEventsTotal: 0,
    usageTokensTotal: 0,
    eventMismatches: 0,
    latencies: [],
    ttfts: [],
    tpots: [],
    gaps: [],
  });
  let cell = newCell();
  const fail = (message) => {
    cell.errors++;
    if (cell.errorSamples.length < 5 && !cell.errorSamples.includes(message)) cell.errorSamples.push(message);
  };

  const one = async () => {
    const startedAt = performance.now();
    const inWindow = startedAt >= from && startedAt < until;
    cell.requests++;
    const reader = stream ? new SseReader(startedAt) : null;
    let status = 0;
    let text = "";
    try {
      const res = await pool.request({
        method: "POST",
        path: target.path,
        headers,
        body: payload,
        signal: abort.signal,
      });
      status = res.statusCode;
      res.body.setEncoding("utf8");
      if (reader && status === 200) {
        for await (const piece of res.body) reader.push(piece, performance.now());
      } else {
        for await (const piece of res.body) text += piece;
      }
    } catch (err) {
      fail(
        abort.signal.aborted ? "still running when the drain timed out" : `request failed: ${err.message}`,
      );
      return;
    }
    const endedAt = performance.now();
    if (status !== 200) {
      fail(`HTTP ${status}: ${text.slice(0, 160)}`);
      return;
    }
    if (reader) {
      const problem = finishStream(cell, reader, endedAt, inWindow, from, until, opts.expectedTokens);
      if (problem !== null) {
        fail(problem);
        return;
      }
    } else {
      let tokens = null;
      try {
        tokens = JSON.parse(text).usage?.completion_tokens ?? null;
      } catch {
        fail(`the response is not JSON: ${text.slice(0, 80)}`);
        return;
      }
      if (opts.expectedTokens !== undefined && tokens !== opts.expectedTokens) {
        // A non-streamed reply cut short or padded would make req/s incomparable between targets.
        fail(`usage.completion_tokens ${tokens}, expected ${opts.expectedTokens}`);
        return;
      }
      cell.usageTokensTotal += tokens ?? 0;
    }
    cell.completed++;
    if (endedAt >= from && endedAt < until) cell.inWindowEnded++;
    if (inWindow) cell.latencies.push(endedAt - startedAt);
  };

  // Workers start spread over the warmup, so requests of equal length do not move in lock-step waves.
  const worker = async (_, i) => {
    const delay = (i * opts.warmupMs) / concurrency;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    while (performance.now() < until) await one();
  };
  const drainTimer = setTimeout(() => abort.abort(), opts.warmupMs + opts.durationMs + opts.drainMs);
  let seconds = opts.durationMs / 1000;
  try {
    if (opts.burst) {
      // All at once, twice: the first burst opens the pool's connections (kept alive), the second is measured,
      // every request of it in the window.
      await Promise.all(Array.from({ length: concurrency }, one));
      // Counts over the whole cell (errors, events in = events out against the engine's counter) go on.
      const warm = cell;
      cell = newCell();
      for (const k of [
        "requests",
        "completed",
        "errors",
        "errorSamples",
        "contentEventsTotal",
        "dataEventsTotal",
      ])
        cell[k] = warm[k];
      for (const k of ["usageTokensTotal", "eventMismatches"]) cell[k] = warm[k];
      from = performance.now();
      until = Number.POSITIVE_INFINITY;
      await Promise.all(Array.from({ length: concurrency }, one));
      seconds = (performance.now() - from) / 1000;
    } else {
      await Promise.all(Array.from({ length: concurrency }, worker));
    }
  } finally {
    clearTimeout(drainTimer);
    await pool.destroy().catch(() => {});
  }
  return {
    concurrency,
    stream,
    requests: cell.requests,
    completed: cell.completed,
    errors: cell.errors,
    errorSamples: cell.errorSamples,
    reqPerSec: cell.inWindowEnded / seconds,
    latencyMs: summarize(cell.latencies),
    ...(stream
      ? {
          eventsPerSec: cell.eventsInWindow / seconds,
          ttftMs: summarize(cell.ttfts),
          itlMs: summarize(cell.gaps),
          tpotMs: summarize(cell.tpots),
          events: cell.contentEventsTotal,
          dataEvents: cell.dataEventsTotal,
          usageTokens: cell.usageTokensTotal,
          eventMismatches: cell.eventMismatches,
        }
      : { usageTokens: cell.usageTokensTotal }),
    wallMs: performance.now() - t0,
  };
}

/** Adds a finished stream to the cell; returns what was wrong with it, or null. */
function finishStream(cell, reader, endedAt, inWindow, from, until, expectedTokens) {
  for (const at of reader.contentTimes) if (at >= from && at < until) cell.eventsInWindow++;
  cell.contentEventsTotal += reader.contentEvents;
  cell.dataEventsTotal += reader.dataEvents;
  cell.usageTokensTotal += reader.usageTokens ?? 0;
  // Events out = events in: one text event per generated token, as the engine counted them.
  if (reader.usageTokens === null || reader.usageTokens !== reader.contentEvents) {
    cell.eventMismatches++;
    return `${reader.contentEvents} text events but usage.completion_tokens = ${reader.usageTokens}`;
  }
  if (reader.error !== null) return `error inside the stream: ${reader.error}`;
  if (!reader.done) return "the stream ended without data: [DONE]";
  if (expectedTokens !== undefined && reader.contentEvents !== expectedTokens) {
    return `${reader.contentEvents} tokens streamed, expected ${expectedTokens}`;
  }
  if (inWindow) {
    const ttft = reader.ttft();
    if (ttft !== null) cell.ttfts.push(ttft);
    const tpot = reader.tpot(endedAt);
    if (tpot !== null) cell.tpots.push(tpot);
    for (const g of reader.gaps) cell.gaps.push(g);
  }
  return null;
}
