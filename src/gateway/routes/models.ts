import type { Hono } from "hono";
import type { EngineEndpoint } from "../../supervisor/types.js";
import { notReadyError } from "../exchange/admission.js";
import type { RouteDeps } from "../gateway-deps.js";
import { errors } from "../http/gateway-error.js";

const TIMEOUT_MS = 5_000;

/**
 * GET /v1/models: the engine's list, as the engine wrote it. A listing is not a request: it takes no ticket,
 * so clients that list models before each call (many do) leave /health at IDLE and the hang watchdog alone.
 */
export function registerModels(app: Hono, runner: RouteDeps): void {
  app.get("/v1/models", async (c) => {
    const signal = AbortSignal.any([c.req.raw.signal, AbortSignal.timeout(TIMEOUT_MS)]);
    if (runner.served.ids.length === 1) {
      const snapshot = runner.supervisor.snapshot();
      const endpoint = snapshot.state === "ready" ? runner.supervisor.engineEndpoint() : null;
      if (endpoint === null) throw notReadyError(snapshot);
      const text = await engineList(runner, endpoint, signal);
      return new Response(text, { status: 200, headers: { "content-type": "application/json" } });
    }
    // Several models: each engine's own entry (a sleeping vLLM answers too), or one written here for a model whose
    // engine is not up, so that a client sees every model it may ask for.
    const data = await Promise.all(
      runner.served.ids.map(async (id) => {
        const deps = runner.served.lookup(id) as RouteDeps;
        const endpoint =
          deps.supervisor.snapshot().state === "ready" ? deps.supervisor.engineEndpoint() : null;
        if (endpoint !== null) {
          const listed = await engineList(deps, endpoint, signal).then(
            (text) => (JSON.parse(text) as { data?: unknown[] }).data ?? [],
            () => [],
          );
          if (listed.length > 0) return listed;
        }
        return [ownEntry(deps, id)];
      }),
    );
    return c.json({ object: "list", data: data.flat() });
  });
}

/** A model's entry as vLLM writes it (vllm/entrypoints/openai/protocol.py ModelCard). */
function ownEntry(deps: RouteDeps, id: string) {
  return {
    id,
    object: "model",
    created: Math.floor(deps.clock() / 1000),
    owned_by: "vllm",
    root: id,
    parent: null,
    max_model_len: deps.config.maxModelLen,
    permission: [],
  };
}

async function engineList(deps: RouteDeps, endpoint: EngineEndpoint, signal: AbortSignal): Promise<string> {
  try {
    const res = await deps.upstream.send({ endpoint, method: "GET", path: "/v1/models", signal });
    const text = await res.text();
    if (res.status !== 200)
      throw errors.engineFailed(`GET /v1/models answered HTTP ${res.status}: ${text.slice(0, 300)}`);
    return text;
  } catch (err) {
    if (err instanceof Error && err.name === "GatewayError") throw err;
    throw errors.engineUnreachable(err instanceof Error ? err.message : String(err), err);
  }
}
