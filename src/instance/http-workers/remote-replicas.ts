// A worker's view of the primary's replicas (GATEWAY_WORKERS > 1): the routes see the usual SupervisorView, fed by
// the view the primary pushes on every change. Slots are not given here: they are the primary's (remote-admission.ts).
// Several models: one for the runner (every model folded, with each one's figures) and one per model.
import type {
  EngineEndpoint,
  ModelFigures,
  ReplicaView,
  RequestTicket,
  SupervisorEvent,
  SupervisorSnapshot,
  SupervisorView,
} from "../../supervisor/types.js";
import type { AdmissionFigures, ReplicasView } from "./messages.js";

type View = ReplicasView & { figures?: ModelFigures[] };

export class RemoteReplicas implements SupervisorView {
  private view: View;
  private readonly listeners = new Set<(event: SupervisorEvent) => void>();

  /** Several models, the runner's view: each model's figures; absent otherwise (as on a ReplicaSet). */
  readonly models?: () => ModelFigures[];

  constructor(initial: View) {
    this.view = initial;
    if (initial.figures) this.models = () => this.view.figures ?? [];
  }

  setView(view: View): void {
    const from = this.view.snapshot.state;
    this.view = view;
    if (from !== view.snapshot.state) {
      const event: SupervisorEvent = {
        type: "state",
        from,
        to: view.snapshot.state,
        snapshot: view.snapshot,
      };
      for (const listener of this.listeners) listener(event);
    }
  }

  /** The primary's admission figures, as last pushed. */
  get admission(): AdmissionFigures {
    return this.view.admission;
  }

  snapshot(): SupervisorSnapshot {
    return this.view.snapshot;
  }

  /** Slots are only given by the primary (RemoteAdmission); a synchronous ticket cannot be had here. */
  admit(): RequestTicket | null {
    return null;
  }

  engineEndpoint(): EngineEndpoint | null {
    return this.view.engineEndpoint;
  }

  on(listener: (event: SupervisorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  readyEngines(): number {
    return this.view.readyEngines;
  }

  readySlots(): number {
    return this.view.readySlots;
  }

  replicaEndpoints(): Array<{ replica: number; endpoint: EngineEndpoint }> {
    return this.view.replicaEndpoints;
  }

  replicaSnapshots(): ReplicaView[] {
    return this.view.replicaSnapshots;
  }
}
