import type { Hono } from "hono";
import { runnerTruth } from "../../livepeer/live-runner/runner-truth.js";
import type { RouteDeps } from "../gateway-deps.js";

/**
 * GET /live-runner: what a Live Runner heartbeat says now (status, capacity) and the registration, if any. 200
 * exactly when the status is "ready": the health_url of a static runners.json entry. Not /ready, which answers 503
 * when the queue is full, and go-livepeer releases every session of a static runner whose health check fails
 * (ai/runner/live_runner.go checkStaticRunnerHealth): a full runner must stay up and say so with its capacity.
 */
export function registerLiveRunner(app: Hono, deps: RouteDeps): void {
  app.get("/live-runner", (c) => {
    const snapshot = deps.supervisor.snapshot();
    const truth = runnerTruth({
      state: snapshot.state,
      readySlots: deps.supervisor.readySlots?.() ?? (snapshot.state === "ready" ? deps.config.maxNumSeqs : 0),
      ledgerProblem: deps.ledger.unwritable?.() ?? null,
      stopping: false,
    });
    const registration = deps.liveRunner.snapshot();
    const body = {
      status: truth.status,
      capacity: truth.capacity,
      mode: deps.config.liveRunner.mode,
      app: deps.config.liveRunner.app,
      registration: registration && {
        orchestrator: registration.orchestrator,
        registered: registration.registered,
        runnerId: registration.runnerId,
        problem: registration.problem,
        lastOkAt: registration.lastOkAt,
        sessions: registration.sessions,
        o2r: registration.o2r,
      },
    };
    return truth.status === "ready" ? c.json(body) : c.json(body, 503, { "retry-after": "5" });
  });
}
