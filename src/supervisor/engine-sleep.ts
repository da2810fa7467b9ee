// vLLM's sleep mode over HTTP (engine started with --enable-sleep-mode and VLLM_SERVER_DEV_MODE=1; the routes
// exist only then). Level 1 offloads the weights to host RAM and discards the KV cache; level 2 discards both, so
// a level-2 wake reloads the weights from disk. Sequence from vLLM's docs/features/sleep_mode.md: wake the weights,
// `collective_rpc` reload_weights, then wake the KV cache (the reload then has the memory the cache would take).
import { request } from "undici";
import type { EngineEndpoint } from "./types.js";

export type SleepLevel = 1 | 2;

/** How the supervisor puts an engine to sleep and wakes it; each call rejects with what went wrong. */
export interface EngineSleepClient {
  sleep(endpoint: EngineEndpoint, level: SleepLevel, timeoutMs: number): Promise<void>;
  wake(endpoint: EngineEndpoint, level: SleepLevel, timeoutMs: number): Promise<void>;
}

async function post(
  endpoint: EngineEndpoint,
  path: string,
  body: string | null,
  deadline: number,
): Promise<void> {
  const left = Math.max(1, deadline - Date.now());
  const res = await request(`${endpoint.baseUrl}${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${endpoint.apiKey}`,
      ...(body === null ? {} : { "content-type": "application/json" }),
    },
    ...(body === null ? {} : { body }),
    headersTimeout: left,
    bodyTimeout: left,
    signal: AbortSignal.timeout(left),
  });
  const text = await res.body.text();
  if (res.statusCode === 404)
    throw new Error(
      `POST ${path} answered 404: the engine has no sleep routes (it needs --enable-sleep-mode and VLLM_SERVER_DEV_MODE=1)`,
    );
  if (res.statusCode !== 200)
    throw new Error(`POST ${path} answered HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
}

export const httpEngineSleep: EngineSleepClient = {
  async sleep(endpoint, level, timeoutMs) {
    // mode=wait: a request that is still running finishes before the engine sleeps (the gateway drained it first).
    await post(endpoint, `/sleep?level=${level}&mode=wait`, null, Date.now() + timeoutMs);
  },
  async wake(endpoint, level, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    if (level === 1) {
      await post(endpoint, "/wake_up", null, deadline);
      return;
    }
    await post(endpoint, "/wake_up?tags=weights", null, deadline);
    await post(endpoint, "/collective_rpc", JSON.stringify({ method: "reload_weights" }), deadline);
    await post(endpoint, "/wake_up?tags=kv_cache", null, deadline);
  },
};
