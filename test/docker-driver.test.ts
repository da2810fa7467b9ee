// The docker driver against a real Docker-API engine (Podman here) and the simulator image.
// CI prepares both first: scripts/podman-setup.sh, then scripts/build-sim-image.sh (npm run engine:sim-image).
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { DockerDriver } from "../src/engine/docker-driver.js";
import type { EngineHandle, EngineStartSpec } from "../src/engine/engine-driver.js";
import { EngineStartError } from "../src/engine/engine-driver.js";
import { silentLogger } from "../src/log/logger.js";
import type { LifecycleEvent } from "../src/protocol/lifecycle.js";
import {
  dockerFromEnv,
  execStdout,
  listOwnedContainers,
  removeOwnedContainers,
  requireDockerAndImage,
  SIM_IMAGE,
} from "./helpers/docker.js";

const OWNER = `test-docker-driver-${randomUUID().slice(0, 8)}`;
const API_KEY = `sk-test-${randomUUID()}`;
const MODEL = "sim/test-model";

let docker: Docker;

beforeAll(async () => {
  docker = dockerFromEnv();
  await requireDockerAndImage(docker, SIM_IMAGE);
});

afterAll(async () => {
  // A failed test must not leave containers for the next run; the tests assert cleanup themselves.
  if (docker) await removeOwnedContainers(docker, OWNER);
});

function driver(
  options: {
    image?: string;
    hostPort?: number;
    ownerId?: string;
    pullTimeoutMs?: number;
    modelDir?: string;
    modelDirReadOnly?: boolean;
    stopTimeoutMs?: number;
  } = {},
) {
  return new DockerDriver({
    ...(options.stopTimeoutMs === undefined ? {} : { stopTimeoutMs: options.stopTimeoutMs }),
    docker,
    image: options.image ?? SIM_IMAGE,
    gpuIds: "all",
    modelDir: options.modelDir ?? null,
    modelDirReadOnly: options.modelDirReadOnly ?? false,
    hostPort: options.hostPort ?? 0,
    ownerId: options.ownerId ?? OWNER,
    pullTimeoutMs: options.pullTimeoutMs ?? 20_000,
    logger: silentLogger(),
  });
}

/** Records what the driver routes, and lets a test wait for it. */
class Recorder {
  readonly events: LifecycleEvent[] = [];
  readonly logs: { line: string; stream: string }[] = [];
  private waiters: (() => void)[] = [];

  spec(simArgs: string[] = []): EngineStartSpec {
    return {
      instanceId: `t-${randomUUID().slice(0, 12)}`,
      engine: "sim",
      modelId: MODEL,
      env: { VLLM_API_KEY: API_KEY },
      buildArgs: (listen) => [MODEL, "--host", listen.host, "--port", String(listen.port), ...simArgs],
      onLog: (line, stream) => {
        this.logs.push({ line, stream });
        this.notify();
      },
      onEvent: (event) => {
        this.events.push(event);
        this.notify();
      },
    };
  }

  async until(what: string, done: () => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}; events: ${JSON.stringify(this.events)}; logs: ${JSON.stringify(this.logs.slice(-20))}`,
        );
      }
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  private notify() {
    for (const w of this.waiters.splice(0)) w();
  }
}

async function startEngine(d: DockerDriver, spec: EngineStartSpec): Promise<EngineHandle> {
  const handle = await d.start(spec);
  onTestFinished(() => handle.stop(0));
  return handle;
}

function chat(baseUrl: string, content: string, key = API_KEY) {
  return fetch(`${baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content }], max_tokens: 8 }),
  });
}

describe("DockerDriver with Podman and the sim image", () => {
  it("starts the engine, routes lifecycle lines and logs, serves HTTP, and leaves nothing after stop", async () => {
    const rec = new Recorder();
    const d = driver();
    const started = Date.now();
    const handle = await startEngine(d, rec.spec(["--sim-load-seconds", "0.5"]));
    expect(handle.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    await rec.until("ready", () => rec.events.some((e) => e.event === "ready"));
    console.info(`container create -> ready: ${Date.now() - started} ms`);
    const kinds = rec.events.map((e) => e.event);
    expect(kinds[0]).toBe("starting");
    expect(kinds).toContain("loading");
    expect(kinds.indexOf("loading")).toBeLessThan(kinds.indexOf("ready"));

    const health = await fetch(`${handle.baseUrl}/health`);
    expect(health.status).toBe(200);
    const unauthorised = await chat(handle.baseUrl, "hi", "wrong-key");
    expect(unauthorised.status).toBe(401);
    const res = await chat(handle.baseUrl, "hello from the docker driver");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { model: string; choices: { message: { content: string } }[] };
    expect(body.model).toBe(MODEL);
    expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);

    // The runtime's ordinary output (e.g. its access log) arrives as log lines, not as events.
    await rec.until("log lines", () => rec.logs.length > 0);
    expect(JSON.stringify(rec.logs)).not.toContain(API_KEY);

    const [info] = await listOwnedContainers(docker, OWNER);
    expect(info?.Id).toBe(handle.id);
    expect(info?.Labels).toMatchObject({
      "io.llm-runner.managed": "true",
      "io.llm-runner.owner": OWNER,
      "io.llm-runner.model": MODEL,
    });

    await handle.stop(5_000);
    await expect(handle.exited).resolves.toMatchObject({ signal: null });
    await handle.stop(5_000); // idempotent
    expect(await listOwnedContainers(docker, OWNER)).toEqual([]);
  });

  // vLLM's --shutdown-timeout drain (vllm-project/vllm#36666) must not be cut by `docker stop`'s default 10 s, nor
  // by a second SIGTERM; a forced stop still kills at once.
  it("gives a draining engine its stop timeout, signals it once, and a stop(0) kills it at once", async () => {
    const rec = new Recorder();
    const d = driver({ stopTimeoutMs: 40_000 });
    const handle = await startEngine(d, rec.spec(["--sim-itl-ms", "200", "--shutdown-timeout", "30"]));
    await rec.until("ready", () => rec.events.some((e) => e.event === "ready"));
    const inspected = await docker.getContainer(handle.id).inspect();
    expect((inspected.Config as { StopTimeout?: number }).StopTimeout).toBe(40);

    const res = await fetch(`${handle.baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({
        model: MODEL,
        stream: true,
        messages: [{ role: "user", content: "a b c d e f g h" }],
      }),
    });
    expect(res.status).toBe(200);
    const body = res.text().catch(() => "");
    const draining = handle.stop(30_000);
    await rec.until("drain", () => rec.logs.some((l) => l.line.includes("refusing new requests")));
    void handle.stop(20_000);
    const started = Date.now();
    await handle.stop(0);
    await draining;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await body).not.toContain("[DONE]");
    expect(rec.logs.filter((l) => l.line.includes("refusing new requests"))).toHaveLength(1);
    expect(await listOwnedContainers(docker, OWNER)).toEqual([]);
  });

  it("reports a crash through `exited` with the engine's non-zero exit code", async () => {
    const rec = new Recorder();
    const handle = await startEngine(driver(), rec.spec(["--sim-crash-after", "1"]));
    await rec.until("ready", () => rec.events.some((e) => e.event === "ready"));
    expect(await handle.running()).toBe(true);

    await chat(handle.baseUrl, "this request makes the simulator crash").catch(() => null);
    const exit = await Promise.race([
      handle.exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("engine did not exit")), 20_000)),
    ]);
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(await handle.running()).toBe(false);

    await handle.stop(1_000);
    expect(await listOwnedContainers(docker, OWNER)).toEqual([]);
    expect(await handle.running()).toBe(false);
  });

  it("delivers a fatal start's lifecycle line, its log lines and its exit code", async () => {
    const rec = new Recorder();
    const handle = await startEngine(driver(), rec.spec(["--sim-fail-start", "cuda_oom"]));
    const exit = await handle.exited;
    // Everything the engine printed has been routed by the time `exited` resolves.
    expect(rec.events.find((e) => e.event === "fatal")).toMatchObject({ event: "fatal", reason: "cuda_oom" });
    expect(rec.logs.some((l) => l.line.includes("CUDA out of memory"))).toBe(true);
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    await handle.stop(1_000);
    expect(await listOwnedContainers(docker, OWNER)).toEqual([]);
  });

  it("publishes a requested port on 127.0.0.1 only, and shares the host IPC namespace", async () => {
    const port = await freePort();
    const rec = new Recorder();
    const handle = await startEngine(driver({ hostPort: port }), rec.spec());
    expect(handle.baseUrl).toBe(`http://127.0.0.1:${port}`);

    const info = await docker.getContainer(handle.id).inspect();
    expect(info.HostConfig.PortBindings).toEqual({
      "8000/tcp": [{ HostIp: "127.0.0.1", HostPort: String(port) }],
    });
    expect(info.NetworkSettings.Ports["8000/tcp"]).toEqual([{ HostIp: "127.0.0.1", HostPort: String(port) }]);
    expect(info.HostConfig.SecurityOpt).toContain("no-new-privileges");

    await rec.until("ready", () => rec.events.some((e) => e.event === "ready"));
    // IpcMode host: the engine shares the host's IPC namespace (Podman 4.3's inspect says "shareable" even so).
    const ipc = await execStdout(docker.getContainer(handle.id), ["readlink", "/proc/self/ns/ipc"]);
    expect(ipc.trim()).toBe(readlinkSync("/proc/self/ns/ipc"));
    expect((await fetch(`${handle.baseUrl}/health`)).status).toBe(200);
    // On an address other than loopback, nothing answers.
    for (const address of externalAddresses()) {
      await expect(tcpConnect(address, port)).rejects.toThrow();
    }
  });

  it("runs the engine with no capabilities, and an offline MODEL_DIR read-only even with ':' in its name", async () => {
    const parent = mkdtempSync(join(tmpdir(), "llmr-models-"));
    onTestFinished(() => rmSync(parent, { recursive: true, force: true }));
    // A ":" would split a bind string ("src:dst:opts"): the mount must still be this folder, at /models.
    const modelDir = join(parent, "hf:cache");
    mkdirSync(modelDir);
    writeFileSync(join(modelDir, "marker.txt"), "the host's MODEL_DIR\n");
    const rec = new Recorder();
    const handle = await startEngine(driver({ modelDir, modelDirReadOnly: true }), rec.spec());
    await rec.until("ready", () => rec.events.some((e) => e.event === "ready"));
    const container = docker.getContainer(handle.id);

    // Docker's default set (CHOWN, DAC_OVERRIDE, NET_RAW, SETUID…) is gone: effective and bounding sets empty.
    const status = await execStdout(container, ["cat", "/proc/self/status"]);
    expect(/^CapEff:\s+(\w+)$/m.exec(status)?.[1]).toBe("0000000000000000");
    expect(/^CapBnd:\s+(\w+)$/m.exec(status)?.[1]).toBe("0000000000000000");

    expect(await execStdout(container, ["cat", "/models/marker.txt"])).toBe("the host's MODEL_DIR\n");
    const write = await execStdout(container, ["sh", "-c", "touch /models/written 2>&1; echo exit=$?"]);
    expect(write).toMatch(/Read-only file system/);
    expect(write).not.toContain("exit=0");
    expect(existsSync(join(modelDir, "written"))).toBe(false);
    expect((await fetch(`${handle.baseUrl}/health`)).status).toBe(200);
  });

  it("fails with EngineStartError naming a missing image and the way to get it", async () => {
    const image = "localhost/llm-runner-missing:nope";
    const rec = new Recorder();
    const started = Date.now();
    const error = await driver({ image, pullTimeoutMs: 15_000 })
      .start(rec.spec())
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(EngineStartError);
    expect((error as EngineStartError).message).toContain(image);
    expect((error as EngineStartError).hint).toMatch(/build/);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(await listOwnedContainers(docker, OWNER)).toEqual([]);
  });

  it("removes the containers a previous supervisor with the same owner id left behind", async () => {
    const ownerId = `${OWNER}-orphans`;
    onTestFinished(async () => {
      await removeOwnedContainers(docker, ownerId);
    });
    const first = await driver({ ownerId }).start(new Recorder().spec());
    // "Forget" the handle, as a supervisor killed with -9 would; another owner's container must survive.
    const other = await startEngine(driver(), new Recorder().spec());

    const removed = await driver({ ownerId }).removeOrphans();
    expect(removed).toEqual([first.id]);
    expect(await listOwnedContainers(docker, ownerId)).toEqual([]);
    await expect(first.exited).resolves.toMatchObject({ signal: null });
    expect((await listOwnedContainers(docker, OWNER)).map((c) => c.Id)).toEqual([other.id]);
    expect(await driver({ ownerId }).removeOrphans()).toEqual([]);
  });
});

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function externalAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === "IPv4" && !a.internal)
    .map((a) => (a as { address: string }).address);
}

function tcpConnect(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: 2_000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve();
    });
    socket.once("timeout", () => {
      socket.destroy();
      reject(new Error("timeout"));
    });
    socket.once("error", reject);
  });
}
