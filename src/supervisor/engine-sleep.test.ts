// The sleep-mode calls as vLLM's HTTP server takes them (docs/features/sleep_mode.md; the routes need
// VLLM_SERVER_DEV_MODE=1), against a local server that records them.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { httpEngineSleep } from "./engine-sleep.js";
import type { EngineEndpoint } from "./types.js";

let server: Server | null = null;

async function engine(status = 200): Promise<{ endpoint: EngineEndpoint; seen: string[] }> {
  const seen: string[] = [];
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      seen.push(`${req.method} ${req.url} ${body} ${req.headers.authorization}`.trim());
      res.statusCode = status;
      res.end(status === 404 ? '{"detail":"Not Found"}' : "");
    });
  });
  await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { endpoint: { baseUrl: `http://127.0.0.1:${port}`, apiKey: "k", generation: 1 }, seen };
}

afterEach(() => {
  server?.close();
  server = null;
});

describe("httpEngineSleep", () => {
  it("level 1: POST /sleep?level=1&mode=wait, then POST /wake_up", async () => {
    const { endpoint, seen } = await engine();
    await httpEngineSleep.sleep(endpoint, 1, 5_000);
    await httpEngineSleep.wake(endpoint, 1, 5_000);
    expect(seen).toEqual(["POST /sleep?level=1&mode=wait  Bearer k", "POST /wake_up  Bearer k"]);
  });

  it("level 2: the weights woken, reloaded from disk, then the KV cache woken", async () => {
    const { endpoint, seen } = await engine();
    await httpEngineSleep.wake(endpoint, 2, 5_000);
    expect(seen).toEqual([
      "POST /wake_up?tags=weights  Bearer k",
      'POST /collective_rpc {"method":"reload_weights"} Bearer k',
      "POST /wake_up?tags=kv_cache  Bearer k",
    ]);
  });

  it("an engine without the routes says what it needs; another status is quoted", async () => {
    const missing = await engine(404);
    await expect(httpEngineSleep.sleep(missing.endpoint, 1, 5_000)).rejects.toThrow(
      "the engine has no sleep routes (it needs --enable-sleep-mode and VLLM_SERVER_DEV_MODE=1)",
    );
    server?.close();
    const broken = await engine(500);
    await expect(httpEngineSleep.wake(broken.endpoint, 1, 5_000)).rejects.toThrow(
      "POST /wake_up answered HTTP 500",
    );
  });
});
