import type { Config } from "../../src/config/types.js";
import { createGateway } from "../../src/gateway/create-gateway.js";
import type { UpstreamRequest } from "../../src/gateway/exchange/upstream-client.js";
import { silentLogger } from "../../src/log/logger.js";
import { createGatewayMetrics } from "../../src/metrics/gateway-metrics.js";
import { SqliteLedger } from "../../src/pricing/ledger.js";
import { engineStream, type FakeReply, FakeUpstream } from "./fake-upstream.js";
import { gatewayTestConfig, StaticSupervisor } from "./static-supervisor.js";

/** An in-process gateway over a scripted engine (FakeUpstream), for route tests with app.request(). */
export function gatewayHarness(
  options: { config?: Partial<Config>; reply?: (r: UpstreamRequest) => FakeReply } = {},
) {
  const supervisor = new StaticSupervisor({ baseUrl: "http://127.0.0.1:1", apiKey: "k", generation: 1 });
  const upstream = new FakeUpstream(options.reply ?? (() => ({ body: engineStream(["Hello", " world"]) })));
  const ledger = SqliteLedger.open(":memory:");
  const metrics = createGatewayMetrics();
  const app = createGateway({
    config: gatewayTestConfig(options.config),
    supervisor,
    ledger,
    metrics,
    upstream,
    logger: silentLogger(),
    gpus: { list: async () => [] },
  });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  return { app, supervisor, upstream, ledger, metrics, post };
}

// biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary JSON shapes
export async function json(res: Response): Promise<any> {
  return res.json();
}
