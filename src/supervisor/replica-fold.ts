// The replicas' states folded into the one state /health, /ready and admission read: ready while any replica is
// ready; loading while none is ready but one is starting or loading; failed only when every replica failed.
import type { CanaryFigures, SupervisorSnapshot, SupervisorState } from "./types.js";

// The first state any replica is in, in this order, is the set's state.
const PRECEDENCE: readonly SupervisorState[] = [
  "ready",
  "loading",
  "starting",
  "restarting",
  "draining",
  "failed",
  "stopped",
];

export function foldState(states: readonly SupervisorState[]): SupervisorState {
  // Stopped replicas next to failed ones: the set is failed only if none is stopped on purpose.
  return PRECEDENCE.find((s) => states.includes(s)) ?? "stopped";
}

/** One snapshot for the whole set; with one replica, that replica's own. */
export function foldSnapshots(snaps: readonly SupervisorSnapshot[]): SupervisorSnapshot {
  const first = snaps[0];
  if (first === undefined) throw new Error("no replicas to fold");
  if (snaps.length === 1) return first;
  const state = foldState(snaps.map((s) => s.state));
  const loading = snaps.filter((s) => s.state === "loading" && s.progress !== null);
  const latestError = snaps
    .map((s) => s.lastError)
    .filter((e) => e !== null)
    .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))[0];
  const earliest = (values: Array<string | null>) =>
    values.filter((v): v is string => v !== null).sort()[0] ?? null;
  const leader = loading.length
    ? loading.reduce((a, b) => ((b.progress ?? 0) > (a.progress ?? 0) ? b : a))
    : null;
  const canary = foldCanary(snaps.map((s) => s.canary));
  return {
    state,
    // A ready set reads as loaded (as one ready replica does), whatever a restarting neighbour is at.
    progress: state === "ready" ? 1 : (leader?.progress ?? null),
    progressDetail: leader?.progressDetail ?? null,
    engine: first.engine,
    driver: first.driver,
    modelId: first.modelId,
    engineId: snaps.map((s) => s.engineId ?? "-").join(","),
    generation: snaps.reduce((n, s) => n + s.generation, 0),
    restarts: snaps.reduce((n, s) => n + s.restarts, 0),
    inFlight: snaps.reduce((n, s) => n + s.inFlight, 0),
    startedAt: earliest(snaps.map((s) => s.startedAt)),
    readySince: earliest(snaps.filter((s) => s.state === "ready").map((s) => s.readySince)),
    lastError: latestError ?? null,
    ...(canary ? { canary } : {}),
  };
}

/** The replicas' canary counts added up; the latency is the slowest replica's last, the one to look at. */
function foldCanary(figures: ReadonlyArray<CanaryFigures | undefined>): CanaryFigures | undefined {
  const present = figures.filter((f): f is CanaryFigures => f !== undefined);
  if (present.length === 0) return undefined;
  const latencies = present.map((f) => f.lastLatencyMs).filter((ms): ms is number => ms !== null);
  return {
    sent: present.reduce((n, f) => n + f.sent, 0),
    ok: present.reduce((n, f) => n + f.ok, 0),
    errors: present.reduce((n, f) => n + f.errors, 0),
    timeouts: present.reduce((n, f) => n + f.timeouts, 0),
    lastLatencyMs: latencies.length ? Math.max(...latencies) : null,
  };
}
