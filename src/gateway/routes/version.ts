import type { Hono } from "hono";
import type { RouteDeps } from "../gateway-deps.js";

/**
 * GET /version: the AI-runner contract version this runner implements (RUNNER_VERSION, default 0.14.1), not
 * llm-runner's own: gateways filter runners with -aiMinRunnerVersion against ai-runner's numbering
 * (go-livepeer core/capabilities.go). llm-runner's version is in `llm-runner --version` and `status`.
 */
export function registerVersion(app: Hono, deps: RouteDeps): void {
  app.get("/version", (c) =>
    c.json({ pipeline: "llm", model_id: deps.config.modelId, version: deps.config.runnerVersion }),
  );
}
