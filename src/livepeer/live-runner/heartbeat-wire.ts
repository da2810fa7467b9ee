// The dynamic registration protocol as go-livepeer speaks it: ai/runner/live_runner.go (LiveRunnerHeartbeatRequest,
// LiveRunnerHeartbeatResponse, normalizeHeartbeat) and server/ai_http.go (LiveRunnerHeartbeat, UnregisterLiveRunner),
// go-livepeer commit 176aa415ccea4f9861e0dd44e981cda17fb36f52.

export interface LiveRunnerGpu {
  id: string;
  name?: string;
  vram_mb?: number;
}

/** price_info: decimal USD per hour (go-livepeer also accepts "720p" and "fixed" units; an LLM bills time). */
export interface LiveRunnerPriceInfo {
  price?: number;
  currency: "usd";
  unit: "hour";
}

/** POST {orchestrator}/runners/heartbeat: the same body registers (first call) and refreshes. */
export interface HeartbeatRequest {
  runner_id?: string;
  label?: string;
  runner_url: string;
  version?: string;
  /**
   * Application text the orchestrator copies verbatim into its public discovery (LiveRunnerDiscoveryRunner.Metadata)
   * without reading it: at most 1024 UTF-8 bytes, valid UTF-8 without U+FFFD (ValidateLiveRunnerMetadata), else the
   * heartbeat is refused with 400. Each heartbeat replaces it; an empty or absent one clears it.
   */
  metadata?: string;
  /** "" and "ready" are routable; any other lowercase word is not (isReadyStatus). */
  status: string;
  mode: "single-shot" | "persistent";
  gpu?: LiveRunnerGpu;
  app: string;
  /** Sessions at once; the orchestrator counts 0 as 1. */
  capacity: number;
  price_info: LiveRunnerPriceInfo;
  session_ids?: string[];
}

/** go-livepeer's limit on `metadata` (ai/runner/live_runner.go maxMetadataBytes). */
export const MAX_METADATA_BYTES = 1024;

/** The orchestrator-to-runner trickle channel (LiveRunnerTrickleChannel); its name is a credential. */
export interface TrickleChannel {
  name: string;
  channel_name: string;
  url: string;
  mime_type: string;
}

export interface HeartbeatReply {
  runnerId: string;
  orchestrator: string | null;
  intervalMs: number;
  ttlMs: number;
  /** Only in the reply to a registration. */
  heartbeatSecret: string | null;
  o2r: TrickleChannel | null;
  /** The orchestrator's active sessions for this runner, oldest first: authoritative. */
  sessionIds: string[];
}

const UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 1e-3,
  µs: 1e-3,
  ns: 1e-6,
};

/** Go's time.Duration.String() ("5s", "1m0s", "1.5s", "500ms") in milliseconds; null when it is not one. */
export function parseGoDuration(text: unknown): number | null {
  if (typeof text !== "string" || text === "") return null;
  if (text === "0s" || text === "0") return 0;
  const part = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/y;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    part.lastIndex = at;
    const m = part.exec(text);
    if (m === null) return null;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    at = part.lastIndex;
  }
  return total;
}

/** Why a 200 reply can't be used (the text says what was wrong, never the secret). */
export class BadReply extends Error {
  override readonly name = "BadReply";
}

/** Reads a 200 reply; `registering`: the reply must carry the heartbeat secret. */
export function parseHeartbeatReply(body: unknown, registering: boolean): HeartbeatReply {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new BadReply("the reply is not a JSON object");
  const r = body as Record<string, unknown>;
  if (typeof r.runner_id !== "string" || r.runner_id === "") throw new BadReply("the reply has no runner_id");
  const intervalMs = parseGoDuration(r.heartbeat_interval);
  const ttlMs = parseGoDuration(r.heartbeat_ttl);
  if (intervalMs === null || intervalMs <= 0) throw new BadReply("the reply has no valid heartbeat_interval");
  if (ttlMs === null || ttlMs <= 0) throw new BadReply("the reply has no valid heartbeat_ttl");
  const secret =
    typeof r.heartbeat_secret === "string" && r.heartbeat_secret !== "" ? r.heartbeat_secret : null;
  if (registering && secret === null) throw new BadReply("the registration reply has no heartbeat_secret");
  const ids = r.session_ids;
  if (ids !== undefined && ids !== null && (!Array.isArray(ids) || ids.some((id) => typeof id !== "string")))
    throw new BadReply("session_ids is not a list of strings");
  return {
    runnerId: r.runner_id,
    orchestrator: typeof r.orchestrator === "string" ? r.orchestrator : null,
    intervalMs,
    ttlMs,
    heartbeatSecret: secret,
    o2r: parseChannel(r.o2r),
    sessionIds: (ids as string[] | undefined | null) ?? [],
  };
}

function parseChannel(raw: unknown): TrickleChannel | null {
  if (typeof raw !== "object" || raw === null) return null;
  const c = raw as Record<string, unknown>;
  if (typeof c.url !== "string" || !/^https?:\/\//.test(c.url)) return null;
  return {
    name: typeof c.name === "string" ? c.name : "o2r",
    channel_name: typeof c.channel_name === "string" ? c.channel_name : "",
    url: c.url,
    mime_type: typeof c.mime_type === "string" ? c.mime_type : "application/json",
  };
}
