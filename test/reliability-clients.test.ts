import { connect, type Socket } from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, waitFor } from "./helpers/cli.js";
import {
  call,
  chatBody,
  disconnectMidStream,
  metric,
  metricsText,
  pool,
  type Route,
  rssKiB,
  startRunner,
  stopAllRunners,
  TOKEN,
  words,
} from "./helpers/load.js";

// Client faults: clients that vanish mid-stream, clients that stop reading, clients that never finish their
// request. The engine must get its slots back, and the gateway's memory must stay bounded.

const MiB = 1024;
const ROUTES: Route[] = ["/llm", "/v1/chat/completions"];

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllRunners();
});

async function settled(
  url: string,
  timeoutMs = 15_000,
): Promise<{ engineRunning: number; gatewayInFlight: number }> {
  return waitFor(
    async () => {
      const text = await metricsText(url);
      const engineRunning = metric(text, "vllm:num_requests_running");
      const gatewayInFlight = metric(text, "llm_runner_in_flight_requests");
      if (engineRunning === null || gatewayInFlight === null) return null;
      return engineRunning === 0 && gatewayInFlight === 0 ? { engineRunning, gatewayInFlight } : null;
    },
    timeoutMs,
    "the engine's vllm:num_requests_running and the gateway's in-flight count to return to 0",
  );
}

describe("client faults", () => {
  it("1,000 clients disconnecting mid-stream: the engine's running count returns to 0, memory to its baseline", {
    timeout: 120_000,
  }, async () => {
    const runner = await startRunner({
      SIM_ITL_MS: "50",
      MAX_NUM_SEQS: "256",
      QUEUE_SIZE: "256",
      LOG_LEVEL: "warn",
    });
    const leave = (i: number) => {
      const route = ROUTES[i % 2] as Route;
      // 400 tokens at 50 ms: a 20 s stream, left after its first frame. Only an abort of the upstream request
      // frees its slot before the 20 s are up.
      return disconnectMidStream(runner.port, route, chatBody(route, words(400, i), 420, true));
    };
    // Warm-up: the same kinds of traffic once, so the baseline includes the code paths' one-time allocations.
    await pool(200, 50, (i) =>
      call(runner.url, ROUTES[i % 2] as Route, chatBody(ROUTES[i % 2] as Route, words(5, i), 8, i % 4 < 2), {
        timeoutMs: 20_000,
      }),
    );
    await pool(250, 250, leave);
    await settled(runner.url);
    await new Promise((r) => setTimeout(r, 1_000));
    const baseline = rssKiB(runner.pid);

    let left = 0;
    const peaks: number[] = [];
    for (let batch = 0; batch < 4; batch++) {
      const seen = await pool(250, 250, (i) => leave(batch * 250 + i));
      left += seen.filter(Boolean).length;
      peaks.push(rssKiB(runner.pid));
    }
    const atZero = await settled(runner.url, 5_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const after = rssKiB(runner.pid);
    console.log(
      `disconnects: ${left}/1000 left mid-stream; gateway RSS baseline ${(baseline / MiB).toFixed(1)} MiB, peaks ${peaks.map((p) => (p / MiB).toFixed(1)).join("/")} MiB, after ${(after / MiB).toFixed(1)} MiB`,
    );
    expect(left, "clients that saw a frame before leaving").toBeGreaterThanOrEqual(990);
    expect(atZero).toEqual({ engineRunning: 0, gatewayInFlight: 0 });
    expect(after - baseline, "gateway RSS growth after 1,000 disconnects (KiB)").toBeLessThan(48 * MiB);
    // And the runner still serves.
    const ok = await call(runner.url, "/llm", chatBody("/llm", "still here", 4, true));
    expect(ok.status).toBe(200);
    expect(ok.text).toContain("data: [DONE]");
  });

  it("slow readers (reading nothing for seconds) do not grow the gateway's memory: backpressure", {
    timeout: 60_000,
  }, async () => {
    const runner = await startRunner({
      MAX_MODEL_LEN: "65536",
      MAX_NUM_BATCHED_TOKENS: "65536",
      SIM_ITL_MS: "0",
      LOG_LEVEL: "warn",
    });
    const readers = 10;
    const maxTokens = 60_000; // ~15 MB of SSE per stream: 150 MB if the gateway buffered what clients don't read
    const body = JSON.stringify({
      messages: [{ role: "user", content: "slow reader" }],
      max_tokens: maxTokens,
      ignore_eos: true,
      stream: true,
    });
    // Warm-up: two such streams read in full, so the baseline holds the relay path's one-time allocations.
    const warm = JSON.stringify({ ...(JSON.parse(body) as object), max_tokens: 5_000 });
    for (const r of await Promise.all([0, 1].map(() => call(runner.url, "/v1/chat/completions", warm)))) {
      expect(r.text).toContain("data: [DONE]");
    }
    await new Promise((r) => setTimeout(r, 500));
    const baseline = rssKiB(runner.pid);
    const sockets: Socket[] = [];
    try {
      const firstBytes = await Promise.all(
        Array.from({ length: readers }, () => {
          return new Promise<number>((resolve, reject) => {
            const socket = connect(runner.port, "127.0.0.1");
            sockets.push(socket);
            socket.once("error", reject);
            socket.on("connect", () =>
              socket.write(
                `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
                  `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
              ),
            );
            socket.once("data", (d) => {
              socket.pause(); // read nothing more: the kernel buffers fill, then everything upstream must wait
              resolve(d.length);
            });
          });
        }),
      );
      expect(firstBytes.every((n) => n > 0)).toBe(true);
      const samples: number[] = [];
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 1_000));
        samples.push(rssKiB(runner.pid));
      }
      const growth = Math.max(...samples) - baseline;
      console.log(
        `slow readers: gateway RSS baseline ${(baseline / MiB).toFixed(1)} MiB, over 6 s ${samples.map((s) => (s / MiB).toFixed(1)).join("/")} MiB`,
      );
      expect(growth, "gateway RSS growth with 10 stalled readers of 15 MB streams (KiB)").toBeLessThan(
        40 * MiB,
      );
      // The streams are alive (not cut): the engine is still holding them, waiting for the readers.
      const text = await metricsText(runner.url);
      expect(metric(text, "vllm:num_requests_running")).toBe(readers);
    } finally {
      for (const s of sockets) s.destroy();
    }
    await settled(runner.url);
  });

  it("slow-loris connections (a request sent a byte at a time, never finished) are closed by the server in bounded time", {
    timeout: 60_000,
  }, async () => {
    const runner = await startRunner({ LOG_LEVEL: "warn" });
    const boundMs = 20_000;
    const started = Date.now();
    const loris = (kind: "headers" | "body") =>
      new Promise<number | null>((resolve) => {
        const socket = connect(runner.port, "127.0.0.1");
        const prefix =
          kind === "headers"
            ? "POST /llm HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            : `POST /llm HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`;
        let drip: NodeJS.Timeout | undefined;
        const give = setTimeout(() => {
          clearInterval(drip);
          socket.destroy();
          resolve(null); // still open at the bound: the server never closed it
        }, boundMs + 2_000);
        socket.on("connect", () => {
          socket.write(prefix);
          drip = setInterval(() => socket.write(kind === "headers" ? "X" : " "), 500);
        });
        socket.on("close", () => {
          clearInterval(drip);
          clearTimeout(give);
          resolve(Date.now() - started);
        });
        socket.on("error", () => undefined);
        // Read (and drop) what the server answers: a socket that never reads never sees the server's FIN.
        socket.resume();
      });
    const closedAfter = await Promise.all([...Array(10)].map((_, i) => loris(i % 2 ? "headers" : "body")));
    console.log(
      `slow-loris: closed after ${closedAfter.map((ms) => (ms === null ? "never" : `${ms} ms`)).join(", ")}`,
    );
    for (const ms of closedAfter) {
      expect(ms, `a slow-loris connection must be closed by the server within ${boundMs} ms`).not.toBeNull();
      expect(ms as number).toBeLessThanOrEqual(boundMs);
    }
    // The runner still serves everyone else.
    const ok = await call(runner.url, "/llm", chatBody("/llm", "hello", 4, false));
    expect(ok.status).toBe(200);
  });
});
