import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, waitFor } from "./helpers/cli.js";
import { health, startRunner, stopAllRunners } from "./helpers/load.js";
import { workerPids } from "./helpers/workers.js";

// Connections cannot pile up in the gateway: one answered 400/408 is closed by the server even when the client
// never closes its side (it only half-closed before), and past MAX_CONNECTIONS new ones are closed at once with
// a log line, per HTTP worker too. README "Security" documents both.

beforeAll(() => assertBuilt());
afterEach(async () => {
  await stopAllRunners();
});

/** Sockets a process holds open (its /proc/<pid>/fd entries that are sockets). */
function openSockets(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

interface Client {
  socket: Socket;
  answer: string;
  /** The server sent its FIN (or reset the connection). */
  ended: boolean;
}

/** A client that never closes its side of the connection (allowHalfOpen), writing `data` once connected. */
function client(port: number, data: string | null): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    const c: Client = { socket, answer: "", ended: false };
    socket.on("data", (d) => {
      c.answer += d.toString();
    });
    socket.on("end", () => {
      c.ended = true;
    });
    socket.on("close", () => {
      c.ended = true;
    });
    socket.on("error", () => {
      c.ended = true;
    });
    socket.once("connect", () => {
      if (data !== null) socket.write(data);
      resolve(c);
    });
    socket.once("error", reject);
  });
}

describe("connections held open by clients", () => {
  it("one answered 400 or 408 is closed by the server, not held while the client keeps its side open", {
    timeout: 60_000,
  }, async () => {
    const runner = await startRunner({ LOG_LEVEL: "warn" });
    await health(runner.url);
    const baseline = openSockets(runner.pid);
    // 40 malformed requests (400 at once) and 20 connections that never send a byte (408 after 10 s of no headers).
    const malformed = await Promise.all(
      Array.from({ length: 40 }, () => client(runner.port, "NOT HTTP AT ALL\r\n\r\n")),
    );
    const silent = await Promise.all(Array.from({ length: 20 }, () => client(runner.port, null)));
    await waitFor(() => malformed.every((c) => c.answer.startsWith("HTTP/1.1 400")), 5_000, "the 400s");
    await waitFor(() => silent.every((c) => c.answer.startsWith("HTTP/1.1 408")), 15_000, "the 408s");
    expect(JSON.parse(malformed[0]?.answer.split("\r\n\r\n")[1] ?? "{}").error.code).toBe(400);
    // The clients still hold their sides open; the gateway's descriptors must be gone all the same.
    const held = await waitFor(
      () => {
        const n = openSockets(runner.pid);
        return n <= baseline + 2 ? n : null;
      },
      5_000,
      "the gateway to close the connections it answered 400/408",
    ).catch(() => openSockets(runner.pid));
    for (const c of [...malformed, ...silent]) c.socket.destroy();
    expect(held - baseline, "sockets the gateway still holds 5 s after its 400/408").toBeLessThanOrEqual(2);
    expect(await health(runner.url)).not.toBeNull();
  });

  it("past MAX_CONNECTIONS new connections are closed at once and the log says so; the rest are served after", {
    timeout: 60_000,
  }, async () => {
    const runner = await startRunner({ MAX_CONNECTIONS: "20", LOG_LEVEL: "warn" });
    const clients = await Promise.all(Array.from({ length: 30 }, () => client(runner.port, null)));
    await new Promise((r) => setTimeout(r, 1_000)); // well before the 408 of idle connections (10 s)
    const closed = clients.filter((c) => c.ended).length;
    expect(closed, "connections closed past MAX_CONNECTIONS=20 of 30").toBe(10);
    expect(await health(runner.url), "the cap holds /health out too while 20 are open").toBeNull();
    const log = readFileSync(`${runner.home}/runner.log`, "utf8");
    expect(log).toContain("connection limit reached");
    expect(log).toContain("MAX_CONNECTIONS");
    for (const c of clients) c.socket.destroy();
    await waitFor(() => health(runner.url), 5_000, "/health once the held connections are gone");
  });

  it("with GATEWAY_WORKERS=2 each worker takes its share of MAX_CONNECTIONS", {
    timeout: 90_000,
  }, async () => {
    const runner = await startRunner({ MAX_CONNECTIONS: "20", GATEWAY_WORKERS: "2", LOG_LEVEL: "warn" });
    const workers = await waitFor(
      () => {
        const pids = workerPids(runner.pid);
        return pids.length === 2 ? pids : null;
      },
      10_000,
      "two workers",
    );
    const before = workers.map(openSockets);
    // Three times the cap: the primary deals connections out round-robin, but not evenly under load, and each
    // worker must get more than its 10 for both caps to show.
    const clients = await Promise.all(Array.from({ length: 60 }, () => client(runner.port, null)));
    await new Promise((r) => setTimeout(r, 1_000));
    const held = clients.filter((c) => !c.ended).length;
    const perWorker = workers.map((pid, i) => openSockets(pid) - (before[i] as number));
    console.log(`MAX_CONNECTIONS=20 over 2 workers: ${held} held of 60; per worker ${perWorker.join(" / ")}`);
    expect(held).toBeLessThanOrEqual(20);
    expect(held).toBeGreaterThanOrEqual(18);
    for (const n of perWorker) expect(n).toBeLessThanOrEqual(10);
    const log = readFileSync(`${runner.home}/runner.log`, "utf8");
    expect(log).toContain("connection limit reached");
    for (const c of clients) c.socket.destroy();
    await waitFor(() => health(runner.url), 5_000, "/health once the held connections are gone");
  });
});
