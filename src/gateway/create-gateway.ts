import { type Context, Hono } from "hono";
import { isLoopbackListen } from "../config/allowed-hosts.js";
import { priceRate } from "../pricing/price.js";
import { NOOP_TRACER } from "../telemetry/tracer.js";
import { Admission, SummedAdmission } from "./exchange/admission.js";
import { ExchangeTracker } from "./exchange/exchange.js";
import { UndiciUpstreamClient } from "./exchange/upstream-client.js";
import type { GatewayDeps, RouteDeps, ServedModels } from "./gateway-deps.js";
import { accessGuard } from "./http/access.js";
import { bearerAuth } from "./http/auth.js";
import { requireJsonContentType } from "./http/content-type.js";
import { corsMiddleware } from "./http/cors.js";
import { errorResponse, toGatewayError, wireShapeFor } from "./http/error-response.js";
import { errors } from "./http/gateway-error.js";
import { hostCheck } from "./http/host-check.js";
import { requestHeader } from "./http/node-bindings.js";
import { originCheck } from "./http/origin-check.js";
import { bodyLimitFor } from "./http/read-json-body.js";
import { tracedGuard, traceRequests } from "./http/trace-requests.js";
import { wireError } from "./http/wire-status.js";
import { WriteTimeout } from "./relay/write-timeout.js";
import { registerChatCompletions } from "./routes/chat-completions.js";
import { registerCompletions } from "./routes/completions.js";
import { registerHardware } from "./routes/hardware.js";
import { registerHealth } from "./routes/health.js";
import { registerLiveRunner } from "./routes/live-runner.js";
import { registerLlm } from "./routes/llm.js";
import { registerMetrics } from "./routes/metrics.js";
import { registerModels } from "./routes/models.js";
import { registerReady } from "./routes/ready.js";
import { registerResponses } from "./routes/responses.js";
import { registerVersion } from "./routes/version.js";

/** The Hono app plus what a server needs to shut it down cleanly. */
export type GatewayApp = Hono & {
  /** Ends every request in flight at the engine: streams get their error chunk and [DONE]. */
  abortInFlight(reason: string): void;
  /** Closes the upstream connections. */
  closeUpstream(): Promise<void>;
};

/** The routes metrics count by name (others are "other"); README.md documents each (src/cli/readme-coverage.test.ts). */
export const KNOWN_ROUTES: ReadonlySet<string> = new Set([
  "/llm",
  "/v1/chat/completions",
  "/v1/completions",
  "/v1/responses",
  "/v1/models",
  "/health",
  "/ready",
  "/hardware/info",
  "/hardware/stats",
  "/version",
  "/metrics",
  "/live-runner",
]);

const NO_LIVE_RUNNER = { snapshot: () => null, gate: null };

/** The route a request's trace names: a known route, else the mount it came through. */
function routeOf(path: string): string {
  const route = path === "/llm/" ? "/llm" : path;
  return KNOWN_ROUTES.has(route) ? route : "/v1/*";
}

/** How a request the access guard let through was authorized, for its trace. */
function authMethod(c: Context, token: string | null): string {
  if (token && requestHeader(c, "authorization") !== undefined) return "bearer";
  if (requestHeader(c, "livepeer-session-id") !== undefined) return "livepeer_session";
  return "none";
}

function preciseClock(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * The gateway: /llm, /v1/chat/completions, /v1/completions, /v1/responses, /v1/models, /health, /ready, /hardware/*, /version, /metrics.
 * Auth (when AUTH_TOKEN is set) guards the routes that spend GPU time: /llm and /v1/* (and /metrics with
 * METRICS_AUTH). Without it, the browser guards (host-check, origin-check, content-type) stand in.
 *
 * @example
 * const app = createGateway({ config, supervisor, ledger, metrics, gpus, logger });
 * const res = await app.request("/health");
 */
export function createGateway(deps: GatewayDeps): GatewayApp {
  const { config } = deps;
  const clock = deps.clock ?? preciseClock;
  const models = deps.models ?? [
    { config, supervisor: deps.supervisor, ...(deps.admission ? { admission: deps.admission } : {}) },
  ];
  const connections = Math.max(...models.map((m) => m.config.maxNumSeqs)) + config.queueSize + 16;
  const upstream = deps.upstream ?? new UndiciUpstreamClient({ connections });
  const common = {
    ...deps,
    clock,
    upstream,
    liveRunner: deps.liveRunner ?? NO_LIVE_RUNNER,
    tracer: deps.tracer ?? NOOP_TRACER,
    writeTimeout: new WriteTimeout(config.clientWriteTimeoutMs, deps.logger),
  };
  const trackers: ExchangeTracker[] = [];
  // Each model: its own config (engine settings, price), engines, admission and ledger rows.
  const perModel = new Map<string, RouteDeps>();
  const served: ServedModels = {
    ids: models.map((m) => m.config.modelId),
    lookup: (model) => {
      if (model === undefined || model === null || model === "" || perModel.size === 1) return defaultDeps;
      return typeof model === "string" ? (perModel.get(model) ?? null) : null;
    },
  };
  for (const m of models) {
    const rate = priceRate(m.config);
    const exchanges = new ExchangeTracker({
      ledger: deps.ledger,
      metrics: deps.metrics,
      logger: deps.logger,
      clock,
      rate,
      model: m.config.modelId,
    });
    trackers.push(exchanges);
    perModel.set(m.config.modelId, {
      ...common,
      config: m.config,
      supervisor: m.supervisor,
      rate,
      exchanges,
      admission: m.admission ?? new Admission(m.supervisor, m.config.maxNumSeqs, m.config.queueSize),
      served,
    });
  }
  const defaultDeps = perModel.get(served.ids[0] as string) as RouteDeps;
  // The runner-wide view (/health, /ready, /metrics): with several models, every model's engines and admission.
  const routeDeps: RouteDeps =
    models.length === 1
      ? defaultDeps
      : {
          ...defaultDeps,
          config,
          supervisor: deps.supervisor,
          admission: deps.admission ?? new SummedAdmission([...perModel.values()].map((d) => d.admission)),
        };

  const app = new Hono();
  app.onError((err, c) => {
    const error = toGatewayError(err);
    if (error.status >= 500 && error.status !== 502 && error.status !== 503) {
      deps.logger.error({ err, path: c.req.path }, "request failed");
    }
    return errorResponse(wireError(c.req.path, error), wireShapeFor(c.req.path));
  });
  app.notFound((c) => errorResponse(errors.notFound(c.req.method, c.req.path), wireShapeFor(c.req.path)));

  app.use("*", async (c, next) => {
    await next();
    const path = c.req.path === "/llm/" ? "/llm" : c.req.path;
    deps.metrics.response(KNOWN_ROUTES.has(path) ? path : "other", c.res.status);
  });

  // Without AUTH_TOKEN, refuse what a web page could send: a rebound Host, a foreign Origin, a non-JSON POST.
  if (!config.authToken) {
    if (isLoopbackListen(config.host)) app.use("*", hostCheck(config.allowedHosts, config.host));
    app.use("*", originCheck(config.corsOrigins));
  }
  // Before auth: browsers send preflights without the bearer token.
  const cors = corsMiddleware(config.corsOrigins);
  if (cors !== null) app.use("/v1/*", cors);
  const gate = routeDeps.liveRunner.gate;
  const auth = accessGuard({
    token: config.authToken,
    sessions: gate,
    // A registered Live Runner listening beyond loopback serves only the orchestrator's sessions, unless AUTH_TOKEN.
    directWithoutToken: gate === null || isLoopbackListen(config.host),
    stickySessions: config.liveRunner.mode === "persistent",
  });
  const limit = bodyLimitFor(config.maxBodyBytes);
  const tracer = routeDeps.tracer;
  const traces = tracer.enabled ? traceRequests(tracer, routeOf) : null;
  const guard = traces ? tracedGuard(auth, (c) => authMethod(c, config.authToken)) : auth;
  for (const path of ["/llm", "/llm/", "/v1/*"]) {
    if (traces) app.use(path, traces);
    if (!config.authToken) app.use(path, requireJsonContentType());
    app.use(path, guard, limit);
  }
  // The operator's own scrapes: the bearer token only, never a Live Runner session.
  if (config.metricsAuth) app.use("/metrics", bearerAuth(config.authToken));

  registerLlm(app, routeDeps);
  registerChatCompletions(app, routeDeps);
  registerCompletions(app, routeDeps);
  registerResponses(app, routeDeps);
  registerModels(app, routeDeps);
  registerHealth(app, routeDeps);
  registerReady(app, routeDeps);
  registerHardware(app, routeDeps);
  registerVersion(app, routeDeps);
  registerMetrics(app, routeDeps);
  registerLiveRunner(app, routeDeps);

  return Object.assign(app, {
    abortInFlight: (reason: string) => {
      for (const exchanges of trackers) exchanges.abortAll(reason);
    },
    closeUpstream: () => upstream.close(),
  });
}
