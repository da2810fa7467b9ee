// The sessions the orchestrator reserved for this runner, as far as the runner can know them: the o2r channel's
// "reserved"/"released" events in real time, and each heartbeat reply's session_ids, which are authoritative
// (go-livepeer ai/runner/live_runner.go: ReserveSession/releaseSessionLocked send the events, Heartbeat answers
// sessionIDsLocked()).
import type { Timers } from "./timers.js";

interface Waiter {
  resolve(found: boolean): void;
  timer: unknown;
}

export class LiveSessions {
  /** session id → the change number at which it was added. */
  private readonly reserved = new Map<string, number>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly listeners = new Set<() => void>();
  private changes = 0;

  constructor(private readonly clock: Timers) {}

  get size(): number {
    return this.reserved.size;
  }

  has(id: string): boolean {
    return this.reserved.has(id);
  }

  list(): string[] {
    return [...this.reserved.keys()];
  }

  /** A mark to pass to reconcile() for a heartbeat sent now. */
  mark(): number {
    return this.changes;
  }

  reserve(id: string): void {
    if (this.reserved.has(id)) return;
    this.reserved.set(id, ++this.changes);
    this.wake(id, true);
    this.changed();
  }

  release(id: string): void {
    if (this.reserved.delete(id)) this.changed();
  }

  /**
   * The heartbeat reply's list, true when the heartbeat was sent (at `mark`): ids missing from it are dropped,
   * except those added after the heartbeat left, which the reply could not know yet.
   */
  reconcile(ids: readonly string[], mark: number): void {
    const listed = new Set(ids);
    let changed = false;
    for (const [id, addedAt] of this.reserved) {
      if (!listed.has(id) && addedAt <= mark) {
        this.reserved.delete(id);
        changed = true;
      }
    }
    for (const id of listed) {
      if (this.reserved.has(id)) continue;
      this.reserved.set(id, ++this.changes);
      this.wake(id, true);
      changed = true;
    }
    if (changed) this.changed();
  }

  /** Forgets every session (the registration is gone: the orchestrator released them). */
  clear(): void {
    if (this.reserved.size === 0) return;
    this.reserved.clear();
    this.changed();
  }

  /** Resolves true as soon as `id` is reserved, false after `timeoutMs`. */
  waitFor(id: string, timeoutMs: number): Promise<boolean> {
    if (this.reserved.has(id)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const set = this.waiters.get(id) ?? new Set<Waiter>();
      this.waiters.set(id, set);
      const waiter: Waiter = {
        resolve,
        timer: this.clock.setTimeout(() => {
          set.delete(waiter);
          if (set.size === 0) this.waiters.delete(id);
          resolve(false);
        }, timeoutMs),
      };
      set.add(waiter);
    });
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private wake(id: string, found: boolean): void {
    const set = this.waiters.get(id);
    if (!set) return;
    this.waiters.delete(id);
    for (const w of set) {
      this.clock.clearTimeout(w.timer);
      w.resolve(found);
    }
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
