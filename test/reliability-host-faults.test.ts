import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { isAlive, waitForExit } from "../src/engine/process-group.js";
import { SqliteLedger } from "../src/pricing/ledger.js";
import { assertBuilt, cliEnv, freePort, runCli, spawnCli, tempHome, waitFor } from "./helpers/cli.js";
import { fillDisk, SIM, stopForeground, tmpfs } from "./helpers/host-faults.js";
import { authHeaders, call, chatBody, type Route, stopAllRunners, waitForHealth } from "./helpers/load.js";
import { workersOfHome } from "./helpers/workers.js";

// Faults of the host: the ledger's disk full, LLM_RUNNER_HOME read-only, the gateway's port
// taken (two runners on one home: reliability-home-lock.test.ts). The disks are small tmpfs mounts (root only:
// CI runs as root), unmounted after each test.

afterEach(async () => {
  await stopAllRunners();
});

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
    const runs: Array<[string[], Record<string, string>]> = [
      [["start"], {}],
      [["start", "--detach"], {}],
      // With HTTP workers the workers find the port taken: same message, and no worker is left running.
      [["start"], { GATEWAY_WORKERS: "2" }],
    ];
    for (const [args, extra] of runs) {
      const res = await runCli(args, cliEnv(home, { ...SIM, PORT: String(port), ...extra }), 30_000);
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
      expect(workersOfHome(home), "HTTP workers left behind").toEqual([]);
    }
  });
});
