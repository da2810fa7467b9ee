import type { Hono } from "hono";
import { healthStatus } from "../../supervisor/health-status.js";
import type { RouteDeps } from "../gateway-deps.js";

/** GET /health: always 200 with the AI-runner status; Livepeer's orchestrator reads the body, not the code. */
export function registerHealth(app: Hono, deps: RouteDeps): void {
  app.get("/health", (c) => c.json({ status: healthStatus(deps.supervisor.snapshot()) }));
}
