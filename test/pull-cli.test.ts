// `llm-runner pull` and `start`'s pull-first hook, run as a user runs them (the built CLI) against the fake hub.
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { assertBuilt, cliEnv, freePort, runCli, spawnCli, tempHome, waitFor } from "./helpers/cli.js";
import { FakeHub } from "./helpers/fake-hub.js";
import { bigModel, etagOf, sha256, tinyModel } from "./helpers/fake-repo.js";
import { readBack } from "./helpers/hf-readback.js";

const REPO = "acme/tiny-llama";
const SHARD = "model-00001-of-00002.safetensors";
let hub: FakeHub;
let tmp: { home: string; cleanup: () => void };
let cache: string;

beforeAll(() => assertBuilt());
beforeEach(async () => {
  hub = await new FakeHub([
    tinyModel(REPO),
    { ...tinyModel("acme/gated-llama"), gated: "manual", tokens: ["hf_granted"] },
  ]).start();
  tmp = tempHome("llmr-pull-cli-");
  cache = join(tmp.home, "hub");
});
afterEach(async () => {
  await hub.close();
  tmp.cleanup();
});

const env = (extra: Record<string, string> = {}) =>
  cliEnv(tmp.home, { HF_ENDPOINT: hub.endpoint, MODEL_DIR: cache, ...extra });

describe("llm-runner pull", () => {
  it("Ctrl-C keeps the partial file; the next run resumes it with Range and skips finished files", async () => {
    hub.stallAt.set(SHARD, 150_000);
    const shard = tinyModel(REPO).files.find((f) => f.path === SHARD);
    const incomplete = join(
      cache,
      "models--acme--tiny-llama",
      "blobs",
      `${etagOf(shard as never)}.incomplete`,
    );
    const child = spawnCli(["pull", REPO], env());
    await waitFor(
      () => existsSync(incomplete) && statSync(incomplete).size === 150_000,
      30_000,
      "150 kB of the shard",
    );
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(child.output()).toContain("Run the same command again to resume.");
    expect(statSync(incomplete).size).toBe(150_000);

    const firstRun = hub.fileGets().length;
    const again = await runCli(["pull", REPO], env());
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("1 resumed");
    expect(again.stdout.trim()).toBe(
      join(cache, "models--acme--tiny-llama", "snapshots", tinyModel(REPO).commit),
    );
    const secondRun = hub.fileGets().slice(firstRun);
    // Only the shard being downloaded: the small files and the other shard (fetched beside it) were done.
    expect(secondRun.filter((l) => l.server === "hub").map((l) => l.url.split("/").pop())).toEqual([SHARD]);
    expect(secondRun.find((l) => l.server === "cdn")?.range).toBe("bytes=150000-");
    expect(readBack(cache, REPO, SHARD).bytes.equals(shard?.content as Buffer)).toBe(true);
  });

  it("rides out a 429 on the model info, a 502 on config.json and a 503 from the CDN, showing each wait", async () => {
    hub.refuse.set("info", { status: 429, times: 1, headers: { "Retry-After": "1" } });
    hub.refuse.set("hub:config.json", { status: 502, times: 1 });
    hub.refuse.set(`cdn:${SHARD}`, {
      status: 503,
      times: 1,
      html: "<html><h1>503 Service Unavailable</h1></html>",
    });
    const r = await runCli(["pull", REPO], env());
    expect(r.code).toBe(0);
    const hubHost = new URL(hub.endpoint).host;
    const cdnHost = new URL(hub.cdnOrigin).host;
    expect(r.stderr).toContain(
      `the model info of ${REPO}: HTTP 429 from the hub (${hubHost}); retry 1 of 5 in 2s as it asked\n`,
    );
    expect(r.stderr).toContain(`config.json: HTTP 502 from the hub (${hubHost}); retry 1 of 5 in 1s\n`);
    expect(r.stderr).toContain(`${SHARD}: HTTP 503 from the CDN (${cdnHost}); retry 1 of 5 in 1s\n`);
    expect(r.stderr).not.toContain("<html");
    expect(readBack(cache, REPO, SHARD).bytes.length).toBe(300_000);
  });

  it("killed (-9) mid-way through a file in parts: the next run fetches only the parts not finished", async () => {
    // 100 MiB: four 32 MiB parts fetched side by side; the second one stalls at 40 MiB.
    const MiB = 1024 * 1024;
    await hub.close();
    hub = await new FakeHub([bigModel("acme/big-llama", [100 * MiB])]).start();
    const blob = sha256(hub.repos[0]?.files.find((f) => f.path === "model.safetensors")?.content as Buffer);
    const record = join(cache, "models--acme--big-llama", "blobs", `${blob}.parts.json`);
    hub.stallAt.set("model.safetensors", 40 * MiB);
    const child = spawnCli(["pull", "acme/big-llama"], env());
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    const written = await waitFor(
      () => {
        const w = existsSync(record) ? (JSON.parse(readFileSync(record, "utf8")).written as number[]) : null;
        return w && w[0] === 32 * MiB && w[2] === 32 * MiB && w[3] === 4 * MiB ? w : null;
      },
      60_000,
      "parts 1, 3 and 4 to be recorded as done",
    );
    child.kill("SIGKILL");
    await exited;
    expect(written[1]).toBeLessThan(32 * MiB);

    const firstRun = hub.log.length;
    const again = await runCli(["pull", "acme/big-llama"], env());
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("1 resumed");
    const ranges = hub.log
      .slice(firstRun)
      .filter((l) => l.server === "cdn")
      .map((l) => l.range);
    expect(ranges).toEqual([`bytes=${32 * MiB + (written[1] as number)}-${64 * MiB - 1}`]);
    const model = hub.repos[0]?.files.find((f) => f.path === "model.safetensors")?.content as Buffer;
    expect(readBack(cache, "acme/big-llama", "model.safetensors").bytes.equals(model)).toBe(true);
    expect(existsSync(record)).toBe(false);
  });

  it("a gated model without HF_TOKEN: exit 1 and the licence page to visit", async () => {
    const r = await runCli(["pull", "acme/gated-llama"], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "pull failed: acme/gated-llama is a gated model and HF_TOKEN is not set (HTTP 401)",
    );
    expect(r.stderr).toContain(
      `fix: accept the licence at ${hub.endpoint}/acme/gated-llama and set HF_TOKEN`,
    );
  });

  it("a hub whose file list points a blob at a file outside MODEL_DIR: exit 1, nothing linked", async () => {
    // The tree answer's `oid` names the blob (GET /api/models/{id}/tree/{rev}, a git blob sha1 on the real hub).
    const outside = join(tmp.home, "hostname");
    writeFileSync(outside, "gpu-node-1\n");
    hub.rewriteEntry = (e) => (e.path === "config.json" ? { ...e, oid: "../../../hostname" } : e);
    const r = await runCli(["pull", REPO], env());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `pull failed: the hub at ${new URL(hub.endpoint).host} sent a file list for ${REPO} that a Hugging Face hub never sends: config.json has the git oid "../../../hostname" (not 40 hex digits); nothing was downloaded from it`,
    );
    expect(r.stderr).toContain("fix: check HF_ENDPOINT");
    expect(r.stdout).toBe("");
    expect(existsSync(join(cache, "models--acme--tiny-llama", "snapshots"))).toBe(false);
    expect(readFileSync(outside, "utf8")).toBe("gpu-node-1\n");
  });

  it("a bad HF_ENDPOINT or MODEL_ID is a usage error naming the variable", async () => {
    const r = await runCli(["pull", "not a repo!"], env({ HF_ENDPOINT: "huggingface.co" }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("The configuration has 2 problems:");
    expect(r.stderr).toContain('HF_ENDPOINT = "huggingface.co"');
    expect(r.stderr).toContain('MODEL_ID = "not a repo!"');
  });
});

describe("llm-runner start with a model that is not downloaded", () => {
  it("pulls it first with progress, then starts the engine offline on that cache", async () => {
    // A stand-in for the engine's Python: records the environment it was started with, then idles.
    const envDump = join(tmp.home, "engine-env.txt");
    const fakePython = join(tmp.home, "fake-python.sh");
    writeFileSync(
      fakePython,
      `#!/bin/sh\nenv > '${envDump}.tmp' && mv '${envDump}.tmp' '${envDump}'\nexec sleep 600\n`,
    );
    chmodSync(fakePython, 0o755);
    const port = await freePort();
    const child = spawnCli(
      [
        "start",
        "--engine",
        "vllm",
        "--driver",
        "process",
        "--model-id",
        REPO,
        "--port",
        String(port),
        "--host",
        "127.0.0.1",
      ],
      env({ PYTHON: fakePython, ENGINE_PORT: "0", MAX_MODEL_LEN: "2048" }),
    );
    const exited = new Promise((r) => child.once("exit", r));
    try {
      const dump = await waitFor(
        () => (existsSync(envDump) ? readFileSync(envDump, "utf8") : null),
        60_000,
        "the engine to start",
      );
      expect(dump).toMatch(/^HF_HUB_OFFLINE=1$/m);
      expect(dump.split("\n")).toContain(`HF_HUB_CACHE=${cache}`); // transformers reads config/tokenizer there
      const out = child.output();
      expect(out).toContain(`downloading ${REPO} first, then starting the vllm engine`);
      expect(out).toContain(`${REPO} is not in ${cache} yet: pulling it before the engine starts`);
      expect(out).toMatch(/done: 501 kB downloaded; snapshot /);
      expect(readBack(cache, REPO, "config.json").bytes.length).toBeGreaterThan(0);
    } finally {
      child.kill("SIGTERM");
      await exited;
      rmSync(envDump, { force: true });
    }
  });
});

describe("a runner that downloads its model before the engine starts", () => {
  // A stand-in for the engine's Python: records that it was started, then idles (never ready).
  function fakeEngine(): { python: string; started: string } {
    const started = join(tmp.home, "engine-started");
    const python = join(tmp.home, "fake-python.sh");
    writeFileSync(python, `#!/bin/sh\ntouch '${started}'\nexec sleep 600\n`);
    chmodSync(python, 0o755);
    return { python, started };
  }

  it("listens at once: /health LOADING, /ready 503 downloading N %, /v1 503 and /llm 500 with Retry-After, status, heartbeats", {
    timeout: 90_000,
  }, async () => {
    hub.stallAt.set(SHARD, 150_000); // the download stays in progress until the runner stops
    const { FakeOrchestrator } = await import("./helpers/fake-orchestrator.js");
    const orch = await new FakeOrchestrator({ secret: "s", intervalMs: 1_000, ttlMs: 4_000 }).start();
    const { python, started } = fakeEngine();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = spawnCli(
      [
        "start",
        "--engine",
        "vllm",
        "--driver",
        "process",
        "--model-id",
        REPO,
        "--port",
        String(port),
        "--host",
        "127.0.0.1",
      ],
      env({
        PYTHON: python,
        ENGINE_PORT: "0",
        MAX_MODEL_LEN: "2048",
        AUTH_TOKEN: "tok",
        LIVE_RUNNER_ORCH_URL: orch.url,
        LIVE_RUNNER_SECRET: "s",
      }),
    );
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      const ready = await waitFor(
        async () => {
          try {
            const res = await fetch(`${url}/ready`);
            const body = (await res.json()) as { reason?: string };
            return res.status === 503 && /file \d of \d/.test(body.reason ?? "") ? { res, body } : null;
          } catch {
            return null;
          }
        },
        30_000,
        "/ready to say the model is downloading",
      );
      expect(ready.body.reason).toMatch(
        new RegExp(`downloading ${REPO}: \\d+% \\(.* of .*, ETA .*, file \\d of \\d\\)`),
      );
      expect(ready.res.headers.get("retry-after")).toBe("30");
      expect(await (await fetch(`${url}/health`)).json()).toEqual({ status: "LOADING" });
      const headers = { "content-type": "application/json", authorization: "Bearer tok" };
      const v1 = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers,
        body: JSON.stringify({ model: REPO, messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
      });
      expect(v1.status).toBe(503);
      expect(v1.headers.get("retry-after")).toBe("30");
      expect(((await v1.json()) as { error: { message: string } }).error.message).toContain("downloading");
      const llm = await fetch(`${url}/llm`, {
        method: "POST",
        headers,
        body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
      });
      expect(llm.status).toBe(500); // /llm speaks go-livepeer's statuses
      expect(llm.headers.get("retry-after")).toBe("30");
      const status = JSON.parse((await runCli(["status", "--json"], env())).stdout) as {
        state: string;
        health: string;
        liveRunner: { registered: boolean; sent: { status: string } | null };
      };
      expect(status).toMatchObject({ state: "loading", health: "LOADING" });
      // status.json follows the progress within a second or so.
      await waitFor(
        async () => {
          const human = (await runCli(["status"], env())).stdout;
          const shown =
            /state\s+loading \(\/health LOADING\) \d+% downloading acme\/tiny-llama: \d+% \(.* of .*file \d of \d\)/;
          return shown.test(human) ? human : null;
        },
        10_000,
        "status to show the download",
      );
      // The orchestrator hears it is not ready yet.
      const beat = await waitFor(
        () => orch.heartbeats.find((h) => h.status === 200) ?? null,
        10_000,
        "a heartbeat",
      );
      expect(beat.body?.status).toBe("loading");
      expect(beat.body?.capacity).toBe(0);
      expect(existsSync(started), "the engine waits for the download").toBe(false);
    } finally {
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      await orch.stop();
    }
    expect(existsSync(fakeEngine().started)).toBe(false);
  });

  it("a pull that fails leaves the runner failed, with the reason and the fix on every surface", {
    timeout: 60_000,
  }, async () => {
    const { python, started } = fakeEngine();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const missing = "acme/no-such-model";
    const child = spawnCli(
      [
        "start",
        "--engine",
        "vllm",
        "--driver",
        "process",
        "--model-id",
        missing,
        "--port",
        String(port),
        "--host",
        "127.0.0.1",
      ],
      env({ PYTHON: python, ENGINE_PORT: "0", MAX_MODEL_LEN: "2048" }),
    );
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    try {
      await waitFor(
        async () => {
          try {
            return ((await (await fetch(`${url}/health`)).json()) as { status: string }).status === "ERROR"
              ? true
              : null;
          } catch {
            return null;
          }
        },
        30_000,
        "/health ERROR",
      );
      const ready = await fetch(`${url}/ready`);
      expect(ready.status).toBe(503);
      const reason = ((await ready.json()) as { reason: string }).reason;
      expect(reason).toContain(`the model ${missing} could not be downloaded`);
      const status = JSON.parse((await runCli(["status", "--json"], env())).stdout) as {
        state: string;
        lastError: { reason: string; message: string; hint: string };
      };
      expect(status.state).toBe("failed");
      expect(status.lastError.reason).toBe("pull_failed");
      expect(status.lastError.hint.length).toBeGreaterThan(10);
      const human = (await runCli(["status"], env())).stdout;
      expect(human).toMatch(
        /last error\s+pull_failed: the model acme\/no-such-model could not be downloaded/,
      );
      expect(human).toMatch(/^fix\s+\S/m);
      expect(child.output()).toContain("/health now reports ERROR");
      expect(existsSync(started)).toBe(false);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
  });
});
