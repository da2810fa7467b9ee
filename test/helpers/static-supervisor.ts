import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../../src/config/types.js";
import { createGateway, type GatewayApp } from "../../src/gateway/create-gateway.js";
import { serveGateway } from "../../src/gateway/http/serve.js";
import { gatewayTestConfig, StaticSupervisor } from "../../src/gateway/testing/static-supervisor.js";
import type { GpuProbe } from "../../src/gpu/types.js";
import { silentLogger } from "../../src/log/logger.js";
import { createGatewayMetrics } from "../../src/metrics/gateway-metrics.js";
import { ledgerPath, SqliteLedger } from "../../src/pricing/ledger.js";
import type { EngineEndpoint } from "../../src/supervisor/types.js";

export { gatewayTestConfig, StaticSupervisor } from "../../src/gateway/testing/static-supervisor.js";

export interface RunningGateway extends AsyncDisposable {
  url: string;
  supervisor: StaticSupervisor;
  ledger: SqliteLedger;
  home: string;
  app: GatewayApp;
  close(): Promise<void>;
}

/**
 * The real gateway (undici upstream, SQLite ledger in a temporary home) over a StaticSupervisor pointing at
 * `endpoint`, served on 127.0.0.1 and a free port. close() (or `await using`) shuts it and removes the home.
 */
export async function startGatewayOn(
  endpoint: EngineEndpoint,
  options: { config?: Partial<Config>; gpus?: GpuProbe; modelId?: string } = {},
): Promise<RunningGateway> {
  const home = mkdtempSync(join(tmpdir(), "llm-runner-gw-"));
  const config = gatewayTestConfig({ home, modelId: options.modelId ?? "test-model", ...options.config });
  const supervisor = new StaticSupervisor(endpoint, config.modelId);
  const ledger = SqliteLedger.open(ledgerPath(home));
  const app = createGateway({
    config,
    supervisor,
    ledger,
    metrics: createGatewayMetrics({ router: "prefix" }),
    gpus: options.gpus ?? { list: async () => [] },
    logger: silentLogger(),
  });
  const served = await serveGateway(app, { host: "127.0.0.1", port: 0, closeGraceMs: 2_000 });
  const close = async () => {
    await served.close();
    ledger.close();
    rmSync(home, { recursive: true, force: true });
  };
  return { url: served.url, supervisor, ledger, home, app, close, [Symbol.asyncDispose]: close };
}
