// Time, passed in so the supervisor's backoff and timeouts can be tested without sleeping.

export type TimerId = { readonly __timer: unique symbol };

export interface Clock {
  now(): number; // ms
  setTimeout(fn: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId | null | undefined): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t as unknown as TimerId;
  },
  clearTimeout: (id) => {
    if (id) clearTimeout(id as unknown as NodeJS.Timeout);
  },
};

/** A clock that only moves when told to. Timers fire in time order during advance(). */
export class FakeClock implements Clock {
  private time: number;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 1_700_000_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): TimerId {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id as unknown as TimerId;
  }

  clearTimeout(id: TimerId | null | undefined): void {
    if (id !== null && id !== undefined) this.timers.delete(id as unknown as number);
  }

  pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by ms, firing due timers in order; awaits between timers so promise chains settle. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    for (;;) {
      await flushMicrotasks();
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) {
        if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = Math.max(this.time, next[1].at);
      next[1].fn();
    }
    this.time = target;
    await flushMicrotasks();
  }
}

export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}
