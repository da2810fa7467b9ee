// The runner image (test/fixtures/runner-image/Containerfile, built by scripts/build-runner-image.sh with the layout of
// the Dockerfile) on Podman's Docker API, as deploy/compose.yaml runs it: on the host's network, the simulator engine
// inside, registered as a Live Runner with an orchestrator (the fake one, on loopback), served through its proxy, and
// stopped with SIGTERM: unregistered, drained, exit 0.
import type Docker from "dockerode";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, waitFor } from "./helpers/cli.js";
import { dockerFromEnv, requireDockerAndImage } from "./helpers/docker.js";
import { FakeOrchestrator } from "./helpers/fake-orchestrator.js";

const IMAGE = "localhost/llm-runner:test";
const SECRET = "image-test-secret";
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => {});
});

async function logsOf(container: Docker.Container): Promise<string> {
  const raw = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
  return raw.toString("utf8");
}

describe("the llm-runner image", () => {
  it("runs the simulator, registers with the orchestrator, serves through its proxy, and stops cleanly", {
    timeout: 120_000,
  }, async () => {
    const docker = dockerFromEnv();
    await requireDockerAndImage(docker, IMAGE);
    const o = await new FakeOrchestrator({ secret: SECRET, intervalMs: 1_000, ttlMs: 4_000 }).start();
    cleanup.push(() => o.stop());
    const port = await freePort();
    const container = await docker.createContainer({
      Image: IMAGE,
      Env: [
        "ENGINE=sim",
        "DRIVER=process",
        "HOST=127.0.0.1",
        `PORT=${port}`,
        "ENGINE_PORT=0",
        `LIVE_RUNNER_ORCH_URL=${o.url}`,
        `LIVE_RUNNER_SECRET=${SECRET}`,
      ],
      HostConfig: { NetworkMode: "host", Init: true },
    });
    cleanup.push(() => container.remove({ force: true }));
    await container.start();
    const url = `http://127.0.0.1:${port}`;
    await waitFor(
      async () => {
        try {
          const res = await fetch(`${url}/health`);
          return ((await res.json()) as { status: string }).status === "IDLE" ? true : null;
        } catch {
          return null;
        }
      },
      60_000,
      "the runner in the container to be ready",
    );
    const r = await waitFor(
      async () => {
        const live = o.registered()[0];
        return live && o.isReady(live) ? live : null;
      },
      20_000,
      "the containerized runner to register",
    );
    expect(r.req.runner_url).toBe(url);
    const res = await fetch(`${o.url}/apps/${r.id}/app/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "meta-llama/Meta-Llama-3.1-8B-Instruct",
        messages: [{ role: "user", content: "hello from the network" }],
        max_tokens: 8,
      }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { object: string }).object).toBe("chat.completion");

    await container.stop({ t: 30 });
    const state = (await container.inspect()).State;
    expect(state.ExitCode).toBe(0);
    expect(o.unregisters).toEqual([{ runnerId: r.id, status: 204 }]);
    const logs = await logsOf(container);
    expect(logs).toContain("unregistered from the orchestrator");
    expect(logs).not.toContain(SECRET);
  });
});
