import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { EngineEndpoint } from "../../src/supervisor/types.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

export interface SimEngineOptions {
  modelId?: string;
  maxNumSeqs?: number;
  /** More `vllm serve` / `--sim-*` flags, e.g. ["--sim-itl-ms", "20"]. */
  args?: string[];
  startTimeoutMs?: number;
}

export interface SimEngine extends AsyncDisposable {
  readonly endpoint: EngineEndpoint;
  readonly modelId: string;
  /** The engine's own /metrics text. */
  metrics(): Promise<string>;
  /** vllm:num_requests_running from /metrics. */
  running(): Promise<number>;
  /** Everything the engine printed so far. */
  output(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the real simulator engine (`python3 -m llm_runtime --engine sim`) on 127.0.0.1 and a free port,
 * with a random API key, and waits for its /health to answer 200. Stop it with stop() or `await using`.
 */
export async function startSimEngine(options: SimEngineOptions = {}): Promise<SimEngine> {
  const modelId = options.modelId ?? "test-model";
  const port = await freePort();
  const apiKey = randomBytes(16).toString("hex");
  const baseUrl = `http://127.0.0.1:${port}`;
  const argv = [
    "-m",
    "llm_runtime",
    "--engine",
    "sim",
    // The model goes first: --served-model-name takes one or more values (nargs="+", as in vLLM) and would
    // swallow a positional model that follows it.
    modelId,
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--served-model-name",
    modelId,
    "--max-num-seqs",
    String(options.maxNumSeqs ?? 8),
    ...(options.args ?? []),
  ];
  const child: ChildProcess = spawn("python3", argv, {
    env: { ...process.env, PYTHONPATH: join(REPO, "runtime"), VLLM_API_KEY: apiKey, PYTHONUNBUFFERED: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d) => {
    output += d;
  });
  child.stderr?.on("data", (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let alive = true;
  void exited.then(() => {
    alive = false;
  });

  const stop = async () => {
    if (!alive) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
    await exited;
    clearTimeout(timer);
  };

  const auth = { authorization: `Bearer ${apiKey}` };
  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  for (;;) {
    if (!alive) throw new Error(`the simulator exited before it was ready:\n${output}`);
    try {
      const res = await fetch(`${baseUrl}/health`, { headers: auth, signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the simulator did not answer /health 200 within the start timeout:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const metrics = async () => (await fetch(`${baseUrl}/metrics`, { headers: auth })).text();
  return {
    endpoint: { baseUrl, apiKey, generation: 1 },
    modelId,
    metrics,
    async running() {
      const match = /^vllm:num_requests_running\{[^}]*\} ([0-9.]+)$/m.exec(await metrics());
      if (!match) throw new Error("vllm:num_requests_running is missing from the simulator's /metrics");
      return Number(match[1]);
    },
    output: () => output,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
