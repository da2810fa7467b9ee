// Shared by the gateway's in-process unit tests (app.request(), a fake upstream, an in-memory ledger).

import type { Config } from "../../config/types.js";
import { H100 as FIXTURE_H100 } from "../../gpu/testing/gpu-fixtures.js";
import type { GpuInfo } from "../../gpu/types.js";
import { silentLogger } from "../../log/logger.js";
import { createGatewayMetrics } from "../../metrics/gateway-metrics.js";
import { SqliteLedger } from "../../pricing/ledger.js";
import type { Tracer } from "../../telemetry/tracer.js";
import { createGateway } from "../create-gateway.js";
import type { UpstreamRequest } from "../exchange/upstream-client.js";
import { engineStream, type FakeReply, FakeUpstream } from "./fake-upstream.js";
import { gatewayTestConfig, StaticSupervisor } from "./static-supervisor.js";

/** The fixture H100, with no memory-utilisation reading (the /hardware/stats shape for a missing figure). */
export const H100: GpuInfo = { ...FIXTURE_H100, utilizationMemory: null };

export function setup(
  options: {
    config?: Partial<Config>;
    reply?: (r: UpstreamRequest) => FakeReply | Error;
    gpus?: GpuInfo[] | Error;
    tracer?: Tracer;
  } = {},
) {
  const config = gatewayTestConfig(options.config);
  const supervisor = new StaticSupervisor({
    baseUrl: "http://127.0.0.1:1",
    apiKey: "engine-key",
    generation: 1,
  });
  const upstream = new FakeUpstream(options.reply ?? (() => ({ body: engineStream(["Hello", " world"]) })));
  const ledger = SqliteLedger.open(":memory:");
  const metrics = createGatewayMetrics();
  const gpus = options.gpus ?? [];
  const app = createGateway({
    config,
    supervisor,
    ledger,
    metrics,
    upstream,
    logger: silentLogger(),
    gpus: { list: async () => (gpus instanceof Error ? Promise.reject(gpus) : gpus) },
    ...(options.tracer ? { tracer: options.tracer } : {}),
  });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) =>
    app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
      ...(signal ? { signal } : {}),
    });
  return { app, config, supervisor, upstream, ledger, metrics, post };
}

// biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary JSON shapes
export async function json(res: Response): Promise<any> {
  return res.json();
}

export const hello = { messages: [{ role: "user", content: "hi" }] };

export async function frames(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((f) => f !== "")
    .map((f) => `${f}\n\n`);
}
