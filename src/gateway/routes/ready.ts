import type { Hono } from "hono";
import { healthStatus } from "../../supervisor/health-status.js";
import { notReadyError } from "../exchange/admission.js";
import type { RouteDeps } from "../gateway-deps.js";
import { errors } from "../http/gateway-error.js";

/**
 * GET /ready: 200 only when a request would be served now (engine ready, a free admission slot, a ledger that can
 * record it), else 503 with the reason and Retry-After: Kubernetes readiness probes and a static Live Runner's
 * orchestrator (go-livepeer doc/live-runner.md) take anything but 200 as down. /health is always 200.
 */
export function registerReady(app: Hono, deps: RouteDeps): void {
  app.get("/ready", (c) => {
    const snapshot = deps.supervisor.snapshot();
    const status = healthStatus(snapshot);
    const ledgerProblem = deps.ledger.unwritable?.() ?? null;
    const refusal =
      snapshot.state !== "ready"
        ? notReadyError(snapshot)
        : deps.admission.inFlight >= deps.admission.capacity
          ? errors.busy(deps.admission.capacity)
          : ledgerProblem !== null
            ? errors.ledgerUnwritable(ledgerProblem)
            : null;
    if (refusal === null) return c.json({ ready: true, status, state: snapshot.state });
    const retryAfter = String(Math.max(1, Math.ceil(refusal.retryAfter ?? 1)));
    return c.json({ ready: false, status, state: snapshot.state, reason: refusal.message }, 503, {
      "retry-after": retryAfter,
    });
  });
}
