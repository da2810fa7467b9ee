import type { AdmissionPort } from "../../gateway/exchange/admission.js";
import type { LiveRunnerLink } from "../../livepeer/live-runner/live-runner-link.js";
import { LiveRunnerOffers } from "../../livepeer/live-runner/live-runner-offers.js";
import type { SupervisorView } from "../../supervisor/types.js";
import type { EnginesView, LiveRunnerView, ReplicasView } from "./messages.js";

/** One model's engines and admission (several models), as a worker's routes for that model see them. */
export interface ModelEngines {
  supervisor: SupervisorView;
  admission: AdmissionPort;
}

/** The primary's engines and admission as the workers see them (messages.ts). */
export function enginesView(
  supervisor: SupervisorView,
  admission: AdmissionPort,
  liveRunner?: LiveRunnerLink | LiveRunnerOffers,
  models?: readonly ModelEngines[],
): EnginesView {
  return {
    ...replicasView(supervisor, admission),
    ...(liveRunner ? { liveRunner: liveRunnerView(liveRunner) } : {}),
    ...(models
      ? {
          models: models.map((m) => replicasView(m.supervisor, m.admission)),
          figures: supervisor.models?.() ?? [],
        }
      : {}),
  };
}

function replicasView(supervisor: SupervisorView, admission: AdmissionPort): ReplicasView {
  const snapshot = supervisor.snapshot();
  return {
    snapshot,
    engineEndpoint: supervisor.engineEndpoint(),
    readyEngines: supervisor.readyEngines?.() ?? (snapshot.state === "ready" ? 1 : 0),
    readySlots: supervisor.readySlots?.() ?? 0,
    replicaEndpoints: supervisor.replicaEndpoints?.() ?? [],
    replicaSnapshots: supervisor.replicaSnapshots?.() ?? [],
    admission: {
      inFlight: admission.inFlight,
      queueDepth: admission.queueDepth,
      capacity: admission.capacity,
    },
  };
}

function liveRunnerView(liveRunner: LiveRunnerLink | LiveRunnerOffers): LiveRunnerView {
  if (!(liveRunner instanceof LiveRunnerOffers))
    return { snapshot: liveRunner.snapshot(), sessions: liveRunner.sessions.list() };
  const offers = liveRunner.links.map(({ model, link }) => ({
    model,
    snapshot: link.snapshot(),
    sessions: link.sessions.list(),
  }));
  return { snapshot: liveRunner.snapshot(), sessions: [], offers };
}
