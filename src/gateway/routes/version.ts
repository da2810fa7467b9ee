import type { Hono } from "hono";
import { VERSION } from "../../version.js";
import type { RouteDeps } from "../gateway-deps.js";

export function registerVersion(app: Hono, deps: RouteDeps): void {
  app.get("/version", (c) => c.json({ pipeline: "llm", model_id: deps.config.modelId, version: VERSION }));
}
