// Several models on one runner (LLM_RUNNER_MODELS_FILE): each model is its own offer, one Live Runner registration
// per model with its own runner id, app, capacity, price, status and sessions. The orchestrator keeps them apart
// (go-livepeer ai/runner/live_runner.go: one liveRunner per runner id, each with its own sessions), and its proxy
// names the registration in Livepeer-Runner-Route, so the session gate knows which model a session is for.
import type { LiveRunnerLink } from "./live-runner-link.js";
import type { LiveRunnerOffer, LiveRunnerPort } from "./live-runner-port.js";
import { modelsSessionGate, type SessionGate } from "./session-gate.js";

export interface ModelLink {
  model: string;
  link: LiveRunnerLink;
}

export class LiveRunnerOffers implements LiveRunnerPort {
  readonly gate: SessionGate;

  constructor(readonly links: readonly ModelLink[]) {
    if (links.length === 0) throw new Error("several offers need at least one model");
    this.gate = modelsSessionGate(
      links.map(({ model, link }) => ({ model, state: link.registration, sessions: link.sessions })),
    );
  }

  /** The default (first) model's registration, for the surfaces that show one. */
  snapshot() {
    return (this.links[0] as ModelLink).link.snapshot();
  }

  offers(): LiveRunnerOffer[] {
    return this.links.map(({ model, link }) => ({ model, snapshot: link.snapshot() }));
  }

  link(model: string): LiveRunnerLink | undefined {
    return this.links.find((l) => l.model === model)?.link;
  }

  /** Called when any registration or its sessions change. */
  onChange(listener: () => void): () => void {
    const offs = this.links.map(({ link }) => link.onChange(listener));
    return () => {
      for (const off of offs) off();
    };
  }

  /** Unregisters every model at once (nothing new is routed to any), then closes their connections. */
  async stop(): Promise<void> {
    await Promise.all(this.links.map(({ link }) => link.stop()));
  }
}
