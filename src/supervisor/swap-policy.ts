// The decisions of a swap group (several models sharing GPUs, at most `awake` of them awake), pure so they can be
// tested on their own: which awake model goes to sleep to make room, which idle ones sleep, at which level.
import type { SleepLevel } from "./engine-sleep.js";

/** One model of a group as the policy sees it. */
export interface SwapMember {
  id: string;
  /** Holds GPU memory now: awake, waking, falling asleep, or an engine starting or loading. */
  occupying: boolean;
  /** Awake and taking requests (not being put to sleep, not waking). */
  awake: boolean;
  /** Requests admitted or waiting for a slot. */
  active: number;
  /** When a request last asked for it, or its engine became ready (ms). */
  lastUsedMs: number;
  /** The same moments counted (ties in time broken by order). */
  lastUseSeq: number;
}

/**
 * The model to put to sleep so that `forId` fits: none while fewer than `awakeMax` others hold the GPUs. Among the
 * awake ones, the least recently used, idle ones first (an idle model sleeps at once; a busy one drains first).
 */
export function pickVictim(
  members: readonly SwapMember[],
  forId: string,
  awakeMax: number,
): SwapMember | null {
  const others = members.filter((m) => m.id !== forId);
  if (others.filter((m) => m.occupying).length < awakeMax) return null;
  const candidates = others.filter((m) => m.awake);
  if (candidates.length === 0) return null;
  return (
    [...candidates].sort(
      (a, b) => Number(a.active > 0) - Number(b.active > 0) || a.lastUseSeq - b.lastUseSeq,
    )[0] ?? null
  );
}

/** The awake, idle models that nobody asked for in `idleMs` (0: never), least recently used first. */
export function idleSleepers(members: readonly SwapMember[], nowMs: number, idleMs: number): SwapMember[] {
  if (idleMs <= 0) return [];
  return members
    .filter((m) => m.awake && m.active === 0 && nowMs - m.lastUsedMs >= idleMs)
    .sort((a, b) => a.lastUseSeq - b.lastUseSeq);
}

/**
 * The level a model sleeps at: the group's, except that level 1 keeps the weights in host RAM, and when the
 * sleepers' weights already there plus this model's would pass the budget it sleeps at level 2 (weights
 * discarded, read again from disk on waking). Unknown weights: level 1.
 */
export function sleepLevelFor(
  groupLevel: SleepLevel,
  weightsBytes: number | null,
  hostHeldBytes: number,
  hostBudgetBytes: number,
): SleepLevel {
  if (groupLevel === 2 || weightsBytes === null) return groupLevel;
  return hostHeldBytes + weightsBytes > hostBudgetBytes ? 2 : 1;
}

/**
 * The order a group's engines start in: each start puts the least recently started one to sleep when the group
 * is full, so starting from the last model makes the first `awake` ones (the file's order) the awake ones.
 */
export function bootOrder<T>(members: readonly T[]): T[] {
  return [...members].reverse();
}
