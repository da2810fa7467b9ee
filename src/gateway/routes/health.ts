import type { Hono } from "hono";
import { healthWord } from "../../supervisor/health-word.js";
import type { RouteDeps } from "../gateway-deps.js";

/** GET /health: always 200 with the AI-runner status; Livepeer's orchestrator reads the body, not the code. */
export function registerHealth(app: Hono, deps: RouteDeps): void {
  app.get("/health", (c) => c.json({ status: healthWord(deps.supervisor.snapshot()) }));
}
