// The supervisor's listeners: state changes, progress, engine log lines and errors, delivered in order. A
// listener that throws is logged and does not stop the others.
import type { Logger } from "../log/logger.js";
import { errorMessage } from "./engine-failure.js";
import type { SupervisorEvent, SupervisorSnapshot, SupervisorState } from "./types.js";

export class SupervisorEvents {
  private readonly listeners = new Set<(event: SupervisorEvent) => void>();

  constructor(private readonly logger: Logger) {}

  on(listener: (event: SupervisorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: SupervisorEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.error({ err: errorMessage(err) }, "supervisor listener threw");
      }
    }
  }

  /** Resolves at the next change into one of the states; rejects after timeoutMs, naming the state it is in. */
  waitFor(
    states: SupervisorState[],
    timeoutMs: number,
    now: () => SupervisorState,
  ): Promise<SupervisorSnapshot> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${states.join("/")} (now ${now()})`));
      }, timeoutMs);
      const off = this.on((ev) => {
        if (ev.type === "state" && states.includes(ev.to)) {
          clearTimeout(timer);
          off();
          resolve(ev.snapshot);
        }
      });
    });
  }
}
