// ROUTER: which ready replica takes a request. Every policy first honours an affinity key (a persistent Live Runner
// session, or X-Session-Affinity): the key's replica while it is ready and has room. Then `prefix` scores the
// replicas by the prompt's expected prefix hit and their load (prefix-score.ts, prefix-index.ts),
// `least-in-flight` takes the one with the fewest requests, `round-robin` the next in turn.
import { PrefixIndex } from "./prefix-index.js";
import { choosePrefix } from "./prefix-score.js";
import type { RouteDecision, RouteHint, RouteReason, RouterPolicy } from "./route-decision.js";

// Sticky keys kept (≈100 bytes each): far more sessions than any node holds at once.
const MAX_STICKY_KEYS = 10_000;

/** A ready, trusted replica the router may pick (ReplicaSet lists them in member order). */
export interface Candidate {
  replica: number;
  inFlight: number;
  /** Its MAX_NUM_SEQS. */
  slots: number;
  /** Whether it can take the request now (a free slot). */
  free: boolean;
  /** Its engine: the supervisor and generation (the prefix index's entries belong to one engine). */
  engine: object;
  generation: number;
}

/** A choice: the candidate's position in the list given, and the decision to record once the ticket is had. */
export interface Pick {
  at: number;
  decision: RouteDecision;
  /** Whether the affinity key moves to this replica (not when its own replica is only full). */
  stick: boolean;
}

export class RoutePicker {
  readonly index: PrefixIndex;
  /** Affinity key → replica, in least-recently-used order (Map keeps insertion order). */
  private readonly sticky = new Map<string, number>();
  /** Where the next tie-break (and round-robin's turn) starts, a position in the member list. */
  private cursor = 0;

  constructor(
    readonly policy: RouterPolicy,
    /** Block hashes kept per replica (its engine's KV blocks when known). */
    indexBlocks?: number,
  ) {
    this.index = new PrefixIndex(indexBlocks);
  }

  /** The replica for this request among `candidates` (`at`: its position in that list); null when none is free. */
  pick(candidates: readonly Candidate[], hint: RouteHint = {}): Pick | null {
    const key = hint.affinity;
    const stuck = key === undefined ? undefined : this.sticky.get(key);
    const mine = stuck === undefined ? -1 : candidates.findIndex((c) => c.replica === stuck);
    const own = candidates[mine];
    if (own?.free) return this.decided(own, mine, "sticky", this.matched(own, hint), hint, true);
    const chosen = this.byPolicy(candidates, hint);
    if (chosen === null) return null;
    if (stuck === undefined) return chosen;
    // The session's replica is full (keep the key: it comes back there) or gone (the key moves with it).
    chosen.decision.reason = "fallback";
    chosen.stick = own === undefined;
    return chosen;
  }

  /** The ticket was had: record the prompt's blocks on the replica, stick the key. */
  commit(pick: Pick, candidate: Candidate, hint: RouteHint = {}): void {
    const { replica } = pick.decision;
    if (this.policy === "prefix" && hint.blocks !== undefined && hint.blocks.length > 0)
      this.index.record(replica, candidate.engine, candidate.generation, hint.blocks);
    if (hint.affinity !== undefined && pick.stick) this.stickKey(hint.affinity, replica);
  }

  /** A replica's engine stopped or the replica is gone: its cache is empty. */
  forget(replica: number): void {
    this.index.drop(replica);
  }

  private byPolicy(candidates: readonly Candidate[], hint: RouteHint): Pick | null {
    const n = candidates.length;
    if (n === 0) return null;
    const from = this.cursor % n;
    if (this.policy === "prefix") {
      const total = hint.blocks?.length ?? 0;
      const scored = candidates.map((c) => ({ ...c, matched: this.matched(c, hint) }));
      const choice = choosePrefix(scored, total, from);
      if (choice === null) return null;
      const c = scored[choice.at] as Candidate & { matched: number };
      return this.decided(c, choice.at, choice.reason, c.matched, hint, true);
    }
    let best = -1;
    for (let k = 0; k < n; k++) {
      const at = (from + k) % n;
      const c = candidates[at] as Candidate;
      if (!c.free) continue;
      if (this.policy === "round-robin") {
        best = at;
        break;
      }
      if (best < 0 || c.inFlight < (candidates[best] as Candidate).inFlight) best = at;
    }
    if (best < 0) return null;
    return this.decided(candidates[best] as Candidate, best, "load", 0, hint, true);
  }

  /** Leading blocks of the prompt the index expects on the candidate (prefix policy only). */
  private matched(c: Candidate, hint: RouteHint): number {
    const blocks = hint.blocks;
    if (this.policy !== "prefix" || blocks === undefined || blocks.length === 0) return 0;
    return this.index.match(c.replica, c.engine, c.generation, blocks);
  }

  private decided(
    c: Candidate,
    at: number,
    reason: RouteReason,
    matchedBlocks: number,
    hint: RouteHint,
    stick: boolean,
  ): Pick {
    this.cursor = at + 1;
    const decision: RouteDecision = {
      policy: this.policy,
      reason,
      replica: c.replica,
      matchedBlocks,
      totalBlocks: hint.blocks?.length ?? 0,
    };
    return { at, decision, stick };
  }

  /** Remembers a key's replica; the least recently used keys go first past the bound. */
  private stickKey(key: string, replica: number): void {
    this.sticky.delete(key);
    this.sticky.set(key, replica);
    if (this.sticky.size > MAX_STICKY_KEYS) this.sticky.delete(this.sticky.keys().next().value as string);
  }
}
