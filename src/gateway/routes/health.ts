import type { Hono } from "hono";
import type { RouteDeps } from "../gateway-deps.js";
import { healthStatus } from "../health-status.js";

/** GET /health: always 200 with the AI-runner status; Livepeer's orchestrator reads the body, not the code. */
export function registerHealth(app: Hono, deps: RouteDeps): void {
  app.get("/health", (c) => c.json({ status: healthStatus(deps.supervisor.snapshot()) }));
}
