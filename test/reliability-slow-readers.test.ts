import { connect, type Socket } from "node:net";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, waitFor } from "./helpers/cli.js";
import { call, chatBody, metric, metricsText, startRunner, stopAllRunners, TOKEN } from "./helpers/load.js";

// Clients that stop reading. The gateway stops reading the engine's stream for a client whose
// socket is full (backpressure); that is the client's stall, not the engine's, so the hang watchdog must not
// restart a healthy engine for it. The client itself is closed after CLIENT_WRITE_TIMEOUT, and the engine
// request aborted so the engine frees its slot.

const HANG_TIMEOUT_S = 3;
const WRITE_TIMEOUT_S = 8;

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllRunners();
});

interface StalledClient {
  socket: Socket;
  /** The response head and the bytes read before the client stopped. */
  head: string;
  requestId: string;
}

/**
 * A streaming request whose client reads its first bytes, then nothing more: the kernel buffers fill and the
 * gateway's writes stop being taken.
 */
function stalledClient(port: number, body: string): Promise<StalledClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("error", reject);
    socket.on("connect", () =>
      socket.write(
        `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      ),
    );
    socket.once("data", (d) => {
      socket.pause();
      const head = d.toString("latin1");
      const requestId = /^x-request-id: (\S+)\r$/im.exec(head)?.[1];
      if (!requestId) reject(new Error(`no x-request-id in ${head.slice(0, 400)}`));
      else resolve({ socket, head, requestId });
    });
  });
}

/** Reads the rest of what the server sent, until it closed the connection. */
function readToClose(socket: Socket, timeoutMs: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = "";
    const timer = setTimeout(() => resolve({ text, closed: false }), timeoutMs);
    socket.on("data", (d) => {
      text += d.toString("latin1");
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.on("error", () => undefined);
    socket.resume();
  });
}

async function engineRunning(url: string): Promise<number | null> {
  return metric(await metricsText(url), "vllm:num_requests_running");
}

describe.each([1, 2])("clients that stop reading (GATEWAY_WORKERS=%i)", (workers) => {
  it("do not get a healthy engine restarted as hung, and are closed after CLIENT_WRITE_TIMEOUT with a client_abort row", {
    timeout: 90_000,
  }, async () => {
    const runner = await startRunner({
      MAX_MODEL_LEN: "65536",
      MAX_NUM_BATCHED_TOKENS: "65536",
      SIM_ITL_MS: "0",
      ENGINE_HANG_TIMEOUT: String(HANG_TIMEOUT_S),
      CLIENT_WRITE_TIMEOUT: String(WRITE_TIMEOUT_S),
      GATEWAY_WORKERS: String(workers),
      LOG_LEVEL: "warn",
    });
    const enginePid = await runner.enginePid();
    // ~15 MB of SSE each: far more than the kernel buffers hold, so both streams are held by their clients.
    const body = JSON.stringify({
      messages: [{ role: "user", content: "a client that stops reading" }],
      max_tokens: 60_000,
      ignore_eos: true,
      stream: true,
    });
    const started = Date.now();
    const clients = await Promise.all([0, 1].map(() => stalledClient(runner.port, body)));
    try {
      for (const c of clients) expect(c.head).toMatch(/^HTTP\/1\.1 200 /);

      // Past ENGINE_HANG_TIMEOUT plus the watchdog's tick: the engine is not restarted, the streams are alive.
      await new Promise((r) => setTimeout(r, (HANG_TIMEOUT_S + 3) * 1000));
      const during = await runner.status();
      expect(during.restarts, "engine restarts while two clients held their streams").toBe(0);
      expect(during.state).toBe("ready");
      expect(await runner.enginePid()).toBe(enginePid);
      expect(await engineRunning(runner.url), "the engine still runs both streams").toBe(2);

      // After CLIENT_WRITE_TIMEOUT without taking anything, each client is closed and its engine request aborted.
      await waitFor(
        async () => ((await engineRunning(runner.url)) === 0 ? true : null),
        15_000,
        "the engine's running count to drop to 0 once the stalled clients are closed",
      );
      const closedAfterMs = Date.now() - started;
      expect(closedAfterMs).toBeGreaterThanOrEqual(WRITE_TIMEOUT_S * 1000);
      for (const c of clients) {
        const rest = await readToClose(c.socket, 10_000);
        expect(rest.closed, "the server closed the stalled client's connection").toBe(true);
        expect(rest.text, "a closed stream has no [DONE]").not.toContain("data: [DONE]");
      }

      const rows = await waitFor(
        () => {
          const db = new Database(join(runner.home, "ledger.sqlite"), {
            readonly: true,
            fileMustExist: true,
          });
          try {
            const found = clients.map(
              (c) =>
                db.prepare("SELECT status, http_status, error FROM requests WHERE id = ?").get(c.requestId) as
                  | { status: string; http_status: number; error: string | null }
                  | undefined,
            );
            return Promise.resolve(found.every((r) => r !== undefined) ? found : null);
          } finally {
            db.close();
          }
        },
        5_000,
        "the stalled clients' ledger rows",
      );
      for (const row of rows) {
        expect(row?.status).toBe("client_abort");
        expect(row?.error).toContain(`CLIENT_WRITE_TIMEOUT`);
      }

      // Nothing of this counted against the engine: same engine, no restart, and it serves the next request.
      const ok = await call(
        runner.url,
        "/v1/chat/completions",
        chatBody("/v1/chat/completions", "next", 4, true),
      );
      expect(ok.status).toBe(200);
      expect(ok.text).toContain("data: [DONE]");
      const after = await runner.status();
      expect(after.restarts).toBe(0);
      expect(after.lastError).toBeNull();
      expect(await runner.enginePid()).toBe(enginePid);
    } finally {
      for (const c of clients) c.socket.destroy();
    }
  });
});
