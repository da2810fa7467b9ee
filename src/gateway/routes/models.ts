import type { Hono } from "hono";
import { notReadyError } from "../exchange/admission.js";
import type { RouteDeps } from "../gateway-deps.js";
import { errors } from "../http/gateway-error.js";

const TIMEOUT_MS = 5_000;

/**
 * GET /v1/models: the engine's list, as the engine wrote it. A listing is not a request: it takes no ticket,
 * so clients that list models before each call (many do) leave /health at IDLE and the hang watchdog alone.
 */
export function registerModels(app: Hono, deps: RouteDeps): void {
  app.get("/v1/models", async (c) => {
    const snapshot = deps.supervisor.snapshot();
    const endpoint = snapshot.state === "ready" ? deps.supervisor.engineEndpoint() : null;
    if (endpoint === null) throw notReadyError(snapshot);
    const signal = AbortSignal.any([c.req.raw.signal, AbortSignal.timeout(TIMEOUT_MS)]);
    try {
      const res = await deps.upstream.send({ endpoint, method: "GET", path: "/v1/models", signal });
      const text = await res.text();
      if (res.status !== 200)
        throw errors.engineFailed(`GET /v1/models answered HTTP ${res.status}: ${text.slice(0, 300)}`);
      return new Response(text, { status: 200, headers: { "content-type": "application/json" } });
    } catch (err) {
      if (err instanceof Error && err.name === "GatewayError") throw err;
      throw errors.engineUnreachable(err instanceof Error ? err.message : String(err), err);
    }
  });
}
