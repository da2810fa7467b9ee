import { execFileSync, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { isAlive, killGroup, waitForExit } from "../src/engine/process-group.js";
import { SqliteLedger } from "../src/pricing/ledger.js";
import { assertBuilt, cliEnv, freePort, REPO, runCli, spawnCli, tempHome, waitFor } from "./helpers/cli.js";
import {
  authHeaders,
  call,
  chatBody,
  type Route,
  startRunner,
  stopAllRunners,
  waitForHealth,
} from "./helpers/load.js";

// Issue 16 item 6, faults of the host: the ledger's disk full, LLM_RUNNER_HOME read-only, two runners on one
// home, the gateway's port taken. The disks are small tmpfs mounts (root only: CI runs as root), unmounted
// after each test.

afterEach(async () => {
  await stopAllRunners();
});

const SIM = {
  ENGINE: "sim",
  DRIVER: "process",
  HOST: "127.0.0.1",
  ENGINE_PORT: "0",
  MAX_MODEL_LEN: "4096",
  MAX_NUM_BATCHED_TOKENS: "4096",
  AUTH_TOKEN: "reliability-test-token",
};

/** A tmpfs of `sizeMiB` mounted on a fresh directory; unmounted (and removed) when the test ends. */
function tmpfs(sizeMiB: number, readOnly = false): string {
  if (process.getuid?.() !== 0) {
    throw new Error("this test mounts a tmpfs: run it as root (CI does), e.g. sudo npx vitest run ...");
  }
  const dir = mkdtempSync(join(tmpdir(), "llmr-fs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m${readOnly ? ",ro" : ""}`, "tmpfs", dir]);
  onTestFinished(async () => {
    for (let i = 0; i < 50; i++) {
      try {
        execFileSync("umount", [dir], { stdio: "ignore" });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100)); // a process of the test still closing its files
        if (i === 49) execFileSync("umount", ["-l", dir]);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/**
 * Writes a filler file until the disk is full, then gives `leaveBytes` back; returns a function that frees the
 * space again.
 */
function fillDisk(dir: string, leaveBytes = 0): () => void {
  const path = join(dir, "filler");
  const fd = openSync(path, "w");
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (let i = 0; i < 100_000; i++) writeSync(fd, block, 0, block.length);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
  if (leaveBytes > 0) truncateSync(path, Math.max(0, statSync(path).size - leaveBytes));
  return () => rmSync(path, { force: true });
}

/**
 * Stops foreground runners a test started (SIGTERM, then SIGKILL), then any engine still running for `home`
 * (a runner killed -9 leaves its engine, as designed): found by the LLM_RUNNER_HOME in its environment, which
 * is this test's own temporary directory, so nothing else is touched.
 */
async function stopForeground(
  runners: Array<{ pid?: number | undefined; kill(s: NodeJS.Signals): boolean }>,
  home: string,
) {
  for (const r of runners) if (r.pid && isAlive(r.pid)) r.kill("SIGTERM");
  for (const r of runners) {
    if (!r.pid) continue;
    if (!(await waitForExit(r.pid, 20_000))) r.kill("SIGKILL");
    await waitForExit(r.pid, 5_000);
  }
  for (const pid of enginesOf(home)) {
    killGroup(pid, "SIGKILL");
    await waitForExit(pid, 5_000);
  }
}

function enginesOf(home: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      const env = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (cmd.includes("llm_runtime") && env.includes(`LLM_RUNNER_HOME=${home}`)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

const body = (route: Route, stream = false) => chatBody(route, "hello there", 4, stream);

describe("the ledger's disk fills up", () => {
  it("refuses new requests with a clear 503/500 and a log line, serves none unrecorded, recovers when space returns", {
    timeout: 90_000,
  }, async () => {
    assertBuilt();
    const home = tmpfs(8);
    const port = await freePort();
    // Foreground, logs piped here: the log line must be seen even though the home's disk is full.
    const runner = spawnCli(["start"], cliEnv(home, { ...SIM, PORT: String(port) }));
    onTestFinished(() => stopForeground([runner], home));
    const url = `http://127.0.0.1:${port}`;
    await waitForHealth(url, ["OK", "IDLE"], 60_000);
    const served: string[] = [];
    const send = async (route: Route, stream = false) => {
      const res = await call(url, route, body(route, stream), { headers: authHeaders(), timeoutMs: 20_000 });
      if (res.status === 200 && res.requestId) served.push(res.requestId);
      return res;
    };
    expect((await send("/v1/chat/completions")).status).toBe(200);

    const freeSpace = fillDisk(home);
    // Requests racing the fill: each either gets 200 with its row committed, or a refusal; never an
    // unrecorded 200. Within a few seconds every new request is refused.
    const refused = await waitFor(
      async () => {
        const r = await send("/v1/chat/completions");
        return r.status === 503 ? r : null;
      },
      15_000,
      "a 503 from the full ledger",
    );
    expect(refused.text).toMatch(/cannot record requests right now \(.*(full|could not be written)/);
    for (const route of ["/llm", "/v1/chat/completions"] as Route[]) {
      for (const stream of [false, true]) {
        const r = await send(route, stream);
        expect(route === "/llm" ? [500, 503] : [503], `${route} stream=${stream}: ${r.text}`).toContain(
          r.status,
        );
        expect(r.text).toContain("cannot record requests");
      }
    }
    expect(runner.output()).toMatch(/usage ledger unwritable: .*Refusing new requests/);
    expect(isAlive(runner.pid as number)).toBe(true);

    freeSpace();
    await waitFor(
      async () => ((await send("/llm")).status === 200 ? true : null),
      15_000,
      "serving again after space returned",
    );
    expect((await send("/v1/chat/completions", true)).status).toBe(200);
    expect(runner.output()).toContain("usage ledger writable again");

    // Nearly full (512 KiB left, under the 1 MiB the ledger keeps in reserve): refused before any row fails.
    const rowFailures = () => runner.output().split("could not write the ledger row").length - 1;
    const failedBefore = rowFailures();
    const freeAgain = fillDisk(home, 512 * 1024);
    const early = await waitFor(
      async () => {
        const r = await send("/llm");
        return r.status !== 200 ? r : null;
      },
      15_000,
      "a refusal on the nearly full disk",
    );
    expect(early.text).toMatch(
      /cannot record requests right now \(the disk holding the ledger .* is full: \d+ bytes free/,
    );
    expect(rowFailures()).toBe(failedBefore);
    freeAgain();
    await waitFor(
      async () => ((await send("/v1/chat/completions")).status === 200 ? true : null),
      15_000,
      "serving again",
    );

    runner.kill("SIGTERM");
    await waitForExit(runner.pid as number, 30_000);
    const ledger = SqliteLedger.openReadOnly(join(home, "ledger.sqlite"));
    const ids = new Set(ledger.rows().map((r) => r.id));
    ledger.close();
    expect(served.filter((id) => !ids.has(id))).toEqual([]);
    expect(served.length).toBeGreaterThanOrEqual(3);
  });
});

describe("LLM_RUNNER_HOME cannot be written", () => {
  it("start fails at once with the fix, starting nothing", { timeout: 60_000 }, async () => {
    assertBuilt();
    const ro = tmpfs(1, true);
    for (const home of [ro, join(ro, "sub", "home")]) {
      for (const args of [["start"], ["start", "--detach"]]) {
        const port = await freePort();
        const res = await runCli(args, cliEnv(home, { ...SIM, PORT: String(port) }), 20_000);
        const shown = `${args.join(" ")} on ${home}: exit ${res.code}\n${res.stdout}\n${res.stderr}`;
        expect(res.code, shown).toBe(1);
        expect(res.stderr, shown).toContain(`LLM_RUNNER_HOME (${home}) is not writable (EROFS`);
        expect(res.stderr, shown).toMatch(/Point LLM_RUNNER_HOME at a writable directory/);
        expect(res.stderr, shown).not.toContain("started llm-runner in the background");
        // Nothing listens on the port: no gateway was started.
        expect((await call(`http://127.0.0.1:${port}`, "/health", "", { method: "GET" })).status).toBeNull();
      }
    }
  });
});

describe("two starts on one home", () => {
  it("the second refuses, naming the first (pid and URL)", { timeout: 90_000 }, async () => {
    assertBuilt();
    const first = await startRunner();
    const res = await runCli(["start", "--detach"], { ...first.env, PORT: String(await freePort()) }, 20_000);
    expect(res.code, res.stderr).toBe(1);
    expect(res.stderr).toContain(`already running for ${first.home} (pid ${first.pid}, ${first.url})`);
    expect((await first.status()).state).toBe("ready");
  });

  it("three starts at the same moment: exactly one runs; the others name it", {
    timeout: 90_000,
  }, async () => {
    assertBuilt();
    const { home, cleanup } = tempHome("llmr-twice-");
    onTestFinished(cleanup);
    const ports = [await freePort(), await freePort(), await freePort()];
    const runners = ports.map((p) => spawnCli(["start"], cliEnv(home, { ...SIM, PORT: String(p) })));
    onTestFinished(() => stopForeground(runners, home));
    // Once a runner's gateway answers, every other start has had time to get past its checks.
    await waitFor(
      async () => {
        for (const p of ports) {
          const h = await call(`http://127.0.0.1:${p}`, "/health", "", { method: "GET", timeoutMs: 2_000 });
          if (h.status === 200) return true;
        }
        return null;
      },
      60_000,
      "one runner to answer /health",
    );
    await waitFor(
      () => runners.filter((r) => r.exitCode === null).length <= 1 || null,
      20_000,
      "the others to exit",
    );
    const alive = runners.filter((r) => r.exitCode === null);
    expect(
      alive.map((r) => r.pid),
      runners.map((r) => r.output()).join("\n----\n"),
    ).toHaveLength(1);
    const winner = alive[0] as (typeof runners)[number];
    for (const loser of runners.filter((r) => r !== winner)) {
      expect(loser.exitCode, loser.output()).toBe(1);
      expect(loser.output()).toMatch(new RegExp(`already running for ${home} \\(pid ${winner.pid}[,)]`));
    }
    const winnerPort = ports[runners.indexOf(winner)] as number;
    await waitForHealth(`http://127.0.0.1:${winnerPort}`, ["OK", "IDLE"], 60_000);
    winner.kill("SIGTERM");
    await waitForExit(winner.pid as number, 30_000);
    expect(existsSync(join(home, "runner.lock"))).toBe(false);
  });
});

describe("runner.lock under real contention", () => {
  it("eight processes taking one home's lock at the same instant, over a stale lock: exactly one wins", {
    timeout: 60_000,
  }, async () => {
    assertBuilt();
    const { home, cleanup } = tempHome("llmr-lockrace-");
    onTestFinished(cleanup);
    const lockModule = join(REPO, "dist/instance/home-lock.js");
    for (const round of [0, 1]) {
      // Round 1 starts from a lock left by a dead process: every taker must first move it aside.
      if (round === 1)
        writeFileSync(join(home, "runner.lock"), JSON.stringify({ pid: 2 ** 22 + 1, startedAt: "x" }));
      const at = Date.now() + 3_000; // every process started and waiting by then
      const script = `
        const { acquireHomeLock } = await import(${JSON.stringify(lockModule)});
        while (Date.now() < ${at}) {}
        try { acquireHomeLock(${JSON.stringify(home)}); console.log("won"); await new Promise((r) => setTimeout(r, 5000)); }
        catch (e) { console.log("lost: " + e.message); }`;
      const outcomes = await Promise.all(
        Array.from(
          { length: 8 },
          () =>
            new Promise<string>((resolve) => {
              const child = spawn(process.execPath, ["--input-type=module", "-e", script]);
              let out = "";
              child.stdout.on("data", (d) => {
                out += d;
              });
              child.on("close", () => resolve(out.trim()));
            }),
        ),
      );
      expect(
        outcomes.filter((o) => o === "won"),
        `round ${round}: ${outcomes.join(" | ")}`,
      ).toHaveLength(1);
      expect(outcomes.filter((o) => o.startsWith("lost: llm-runner is already running"))).toHaveLength(7);
      rmSync(join(home, "runner.lock"), { force: true });
    }
  });
});

describe("the gateway's port is taken", () => {
  it("start fails with a clear error, leaves no engine and no lock behind", { timeout: 60_000 }, async () => {
    assertBuilt();
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(0, "127.0.0.1", () => r()));
    onTestFinished(() => new Promise<void>((r) => squatter.close(() => r())));
    const port = (squatter.address() as { port: number }).port;
    const { home, cleanup } = tempHome("llmr-port-");
    onTestFinished(cleanup);
    mkdirSync(home, { recursive: true });
    for (const args of [["start"], ["start", "--detach"]]) {
      const res = await runCli(args, cliEnv(home, { ...SIM, PORT: String(port) }), 30_000);
      const text = `${res.stdout}\n${res.stderr}`;
      expect(res.code, text).toBe(1);
      expect(text).toContain(
        `the gateway cannot listen on 127.0.0.1:${port}: port ${port} on 127.0.0.1 is already in use`,
      );
      expect(text).toMatch(/set PORT \(or --port\) to a free port/);
      const engines = existsSync(join(home, "engines")) ? readdirSync(join(home, "engines")) : [];
      expect(engines, "engine records left behind").toEqual([]);
      expect(existsSync(join(home, "runner.lock")), "lock left behind").toBe(false);
      expect(existsSync(join(home, "instance.json"))).toBe(false);
    }
  });
});
