// Time, passed in (the supervisor's Clock fits: src/supervisor/clock.ts), so the heartbeat schedule and the session
// waits are tested on a fake clock.
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (id) => {
    if (id) clearTimeout(id as NodeJS.Timeout);
  },
};
