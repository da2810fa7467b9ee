import type { AdmissionPort } from "../../gateway/exchange/admission.js";
import type { LiveRunnerLink } from "../../livepeer/live-runner/live-runner-link.js";
import type { SupervisorView } from "../../supervisor/types.js";
import type { EnginesView } from "./messages.js";

/** The primary's engines and admission as the workers see them (messages.ts). */
export function enginesView(
  supervisor: SupervisorView,
  admission: AdmissionPort,
  liveRunner?: LiveRunnerLink,
): EnginesView {
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
    ...(liveRunner
      ? { liveRunner: { snapshot: liveRunner.snapshot(), sessions: liveRunner.sessions.list() } }
      : {}),
  };
}
