import { spawn } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { waitForExit } from "../src/engine/process-group.js";
import { assertBuilt, cliEnv, freePort, REPO, runCli, spawnCli, tempHome, waitFor } from "./helpers/cli.js";
import { SIM, stopForeground } from "./helpers/host-faults.js";
import { call, startRunner, stopAllRunners, waitForHealth } from "./helpers/load.js";

// One runner per LLM_RUNNER_HOME. A second start refuses, naming the first, however close
// together they start (runner.lock, taken with an exclusive link before anything else touches the home).

afterEach(async () => {
  await stopAllRunners();
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
      const at = Date.now() + 2_500; // every process started and waiting by then
      const script = `
        const { acquireHomeLock } = await import(${JSON.stringify(lockModule)});
        while (Date.now() < ${at}) {}
        try { acquireHomeLock(${JSON.stringify(home)}); console.log("won"); await new Promise((r) => setTimeout(r, 3000)); }
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
