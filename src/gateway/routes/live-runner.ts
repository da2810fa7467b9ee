import type { Context, Hono } from "hono";
import type { LiveRunnerSnapshot } from "../../livepeer/live-runner/live-runner-agent.js";
import { modelTruth, runnerTruth } from "../../livepeer/live-runner/runner-truth.js";
import type { ModelFigures } from "../../supervisor/types.js";
import type { RouteDeps } from "../gateway-deps.js";
import { GatewayError } from "../http/gateway-error.js";

/**
 * GET /live-runner: what a Live Runner heartbeat says now (status, capacity) and the registration, if any. 200
 * exactly when the status is "ready": the health_url of a static runners.json entry. Not /ready, which answers 503
 * when the queue is full, and go-livepeer releases every session of a static runner whose health check fails
 * (ai/runner/live_runner.go checkStaticRunnerHealth): a full runner must stay up and say so with its capacity.
 * Several models: the body lists each model's offer too, and `?model=ID` answers for that model alone (a static
 * entry's health_url per model): ready while its engines are, asleep included, since a request wakes it.
 */
export function registerLiveRunner(app: Hono, deps: RouteDeps): void {
  app.get("/live-runner", (c) => {
    const several = deps.served.ids.length > 1 || deps.supervisor.models !== undefined;
    const asked = c.req.query("model");
    if (asked !== undefined && several) return oneModel(c, deps, asked);
    const snapshot = deps.supervisor.snapshot();
    const truth = runnerTruth({
      state: snapshot.state,
      readySlots: deps.supervisor.readySlots?.() ?? (snapshot.state === "ready" ? deps.config.maxNumSeqs : 0),
      ledgerProblem: deps.ledger.unwritable?.() ?? null,
      stopping: false,
    });
    const registration = deps.liveRunner.offers ? null : deps.liveRunner.snapshot();
    const body = {
      status: truth.status,
      capacity: truth.capacity,
      mode: deps.config.liveRunner.mode,
      app: deps.config.liveRunner.app,
      registration: registration && registrationJson(registration),
      ...(several ? { models: deps.served.ids.map((id) => modelOffer(deps, id)) } : {}),
    };
    return answer(c, truth.status, body);
  });
}

function answer(c: Context, status: string, body: object): Response {
  return status === "ready" ? c.json(body) : c.json(body, 503, { "retry-after": "5" });
}

function oneModel(c: Context, deps: RouteDeps, id: string): Response {
  if (!deps.served.ids.includes(id))
    throw new GatewayError(
      404,
      "model_not_found",
      `The model '${id}' is not served here; this runner serves ${deps.served.ids.map((m) => `'${m}'`).join(", ")}: ask /live-runner?model=<one of them>.`,
      { param: "model" },
    );
  const offer = modelOffer(deps, id);
  return answer(c, offer.status, offer);
}

/** One model's offer: what its own registration's heartbeat says now, and the registration. */
function modelOffer(deps: RouteDeps, id: string) {
  const model = deps.served.lookup(id) as RouteDeps;
  const figures: ModelFigures | undefined = deps.supervisor.models?.().find((m) => m.id === id);
  const snapshot = model.supervisor.snapshot();
  const truth = modelTruth({
    model: id,
    engineState: snapshot.state,
    modelState: figures?.state ?? snapshot.state,
    readySlots: model.supervisor.readySlots?.() ?? (snapshot.state === "ready" ? model.config.maxNumSeqs : 0),
    lastWakeMs: figures?.lastWakeMs ?? null,
    ledgerProblem: deps.ledger.unwritable?.() ?? null,
    stopping: false,
  });
  const registration = deps.liveRunner.offers?.().find((o) => o.model === id)?.snapshot ?? null;
  return {
    model: id,
    status: truth.status,
    capacity: truth.capacity,
    state: figures?.state ?? snapshot.state,
    mode: model.config.liveRunner.mode,
    app: model.config.liveRunner.app,
    registration: registration && registrationJson(registration),
  };
}

function registrationJson(r: LiveRunnerSnapshot) {
  return {
    orchestrator: r.orchestrator,
    registered: r.registered,
    runnerId: r.runnerId,
    problem: r.problem,
    lastOkAt: r.lastOkAt,
    sessions: r.sessions,
    o2r: r.o2r,
  };
}
