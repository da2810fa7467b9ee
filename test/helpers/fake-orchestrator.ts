// A Livepeer orchestrator's Live Runner side on 127.0.0.1, written from go-livepeer's own rules (our code; source
// github.com/livepeer/go-livepeer @176aa415ccea4f9861e0dd44e981cda17fb36f52):
// * ai/runner/live_runner.go: Heartbeat (an unknown runner id goes down the registration path, where only the
//   registration secret passes: 401 "invalid registration authorization"; a known one is 404 "runner not found" once
//   expired or removed, else needs its heartbeat secret: 401 "invalid heartbeat authorization"), normalizeHeartbeat
//   (runner_url, app, metadata, status, mode, capacity 0 → 1, price_info on-chain), Unregister (204),
//   ReserveSession (404 not ready, 503 at capacity), releaseSessionLocked, removeExpiredRunners (swept every
//   heartbeat interval), sendSessionEvent / writeO2RLoop (o2r messages, {"keep":"alive"} every 10 s).
// * server/ai_http.go: the routes, body decoded before auth (400 first), respondWithError = http.Error (text/plain),
//   ProxyLiveRunnerSingleShot (reserve, proxy, release when the response is done), ProxyLiveRunnerSession,
//   proxyLiveRunner (httputil.ReverseProxy with Rewrite: runner_url + path + query, the four Livepeer-* headers set,
//   hop-by-hop and X-Forwarded-* / Forwarded dropped, the client's other headers, Authorization included, kept).
// * trickle/trickle_server.go: GET {channel}/{seq}; -1 = next write; the next segment is created by a read that is
//   just ahead; 470 + Lp-Trickle-Latest for a segment that is gone; 404 for an unknown channel; 5 segments kept.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface HeartbeatLog {
  at: number;
  authorization: string | null;
  body: Record<string, unknown> | null;
  status: number;
}

interface Session {
  createdAt: number;
}

interface Runner {
  id: string;
  /** Registered from runners.json: health-checked, never expires, can't heartbeat. */
  static?: { label: string; healthUrl: string; healthyStatusCode: number };
  seed: Buffer;
  heartbeatSecret: string;
  req: Record<string, unknown>;
  lastHeartbeat: number;
  removed: boolean;
  sessions: Map<string, Session>;
  o2r: Channel;
}

const SEGMENTS_KEPT = 5;

/** One trickle channel with the in-memory publisher's behaviour: each message is one segment. */
class Channel {
  nextWrite = 0;
  closed = false;
  private readonly segments = new Map<number, { data: string | null; waiters: Array<() => void> }>();

  publish(message: string): void {
    if (this.closed) return;
    const seg = this.segment(this.nextWrite);
    seg.data = message;
    this.nextWrite += 1;
    for (const w of seg.waiters.splice(0)) w();
    for (const idx of [...this.segments.keys()])
      if (idx < this.nextWrite - SEGMENTS_KEPT) this.segments.delete(idx);
  }

  close(): void {
    this.closed = true;
    for (const seg of this.segments.values()) for (const w of seg.waiters.splice(0)) w();
  }

  private segment(idx: number) {
    let seg = this.segments.get(idx);
    if (!seg) {
      seg = { data: null, waiters: [] };
      this.segments.set(idx, seg);
    }
    return seg;
  }

  /** handleGet: the segment's data once published; a gap answers 470. */
  async read(idx: number, res: ServerResponse): Promise<void> {
    const want = idx === -1 ? this.nextWrite : idx;
    const exists = this.segments.has(want) || want === this.nextWrite;
    if (!exists) {
      res.setHeader("Lp-Trickle-Latest", String(this.nextWrite));
      res.setHeader("Lp-Trickle-Seq", String(want));
      if (this.closed) res.setHeader("Lp-Trickle-Closed", "terminated");
      res.writeHead(this.closed ? 200 : 470);
      res.end("Entry not found");
      return;
    }
    const seg = this.segment(want);
    if (seg.data === null && !this.closed) await new Promise<void>((r) => seg.waiters.push(r));
    if (seg.data === null) {
      res.setHeader("Lp-Trickle-Seq", String(want));
      res.setHeader("Lp-Trickle-Latest", String(this.nextWrite));
      res.setHeader("Lp-Trickle-Closed", "terminated");
      res.writeHead(200);
      res.end();
      return;
    }
    res.writeHead(200, { "Lp-Trickle-Seq": String(want), "Content-Type": "application/json" });
    res.end(seg.data);
  }
}

export interface FakeOrchestratorOptions {
  /** -orchSecret; null = dynamic registration disabled (404). */
  secret: string | null;
  intervalMs?: number;
  ttlMs?: number;
  keepAliveMs?: number;
  /** On-chain: price_info must be a positive USD decimal per hour. */
  onchain?: boolean;
}

// Go's httputil.ReverseProxy removes these (hop-by-hop, RFC 9110 7.6.1) and, with Rewrite, X-Forwarded-*/Forwarded.
const DROPPED = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "host",
]);

export class FakeOrchestrator {
  readonly heartbeats: HeartbeatLog[] = [];
  readonly unregisters: Array<{ runnerId: string; status: number }> = [];
  /** Every request the proxy sent to a runner, with the headers it sent. */
  readonly proxied: Array<{ path: string; headers: IncomingHttpHeaders }> = [];
  private runners = new Map<string, Runner>();
  private server: Server;
  private readonly sockets = new Set<Socket>();
  private sweeper: NodeJS.Timeout | null = null;
  private keepAlive: NodeJS.Timeout | null = null;
  private port = 0;
  readonly intervalMs: number;
  readonly ttlMs: number;

  constructor(private readonly options: FakeOrchestratorOptions) {
    this.intervalMs = options.intervalMs ?? 5_000;
    this.ttlMs = options.ttlMs ?? 20_000;
    this.server = this.makeServer();
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, "127.0.0.1", () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.sweeper = setInterval(() => this.sweep(), this.intervalMs);
    this.keepAlive = setInterval(() => {
      for (const r of this.runners.values()) r.o2r.publish('{"keep":"alive"}');
    }, this.options.keepAliveMs ?? 10_000);
    return this;
  }

  /** The process restarts: every registration, session and channel is forgotten; connections drop. */
  async restart(): Promise<void> {
    await this.stop();
    this.server = this.makeServer();
    await this.start(this.port);
  }

  /** Stops answering (connections refused) until start(port) again. */
  async stop(): Promise<void> {
    for (const loop of this.healthLoops.splice(0)) clearInterval(loop);
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.keepAlive) clearInterval(this.keepAlive);
    for (const r of this.runners.values()) r.o2r.close();
    this.runners.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  get listenPort(): number {
    return this.port;
  }

  runner(id: string): Runner | undefined {
    return this.runners.get(id);
  }

  /** The runners registered now. */
  registered(): Runner[] {
    return [...this.runners.values()].filter((r) => !r.removed);
  }

  /** The only registered runner (tests register one). */
  only(): Runner {
    const live = [...this.runners.values()].filter((r) => !r.removed);
    if (live.length !== 1) throw new Error(`expected one runner, have ${live.length}`);
    return live[0] as Runner;
  }

  isReady(r: Runner): boolean {
    const status = String(r.req.status ?? "");
    return status === "" || status === "ready";
  }

  /** ReserveSession for a persistent client (POST /apps/{id}/session does the same over HTTP). */
  reserve(runnerId: string): { status: number; sessionId?: string; message?: string } {
    const r = this.live(runnerId);
    if (!r || !this.isReady(r)) return { status: 404, message: "runner not found" };
    if (r.sessions.size >= Number(r.req.capacity))
      return { status: 503, message: "no capacity available for runner" };
    const id = `session_${randomBytes(5).toString("hex")}`;
    r.sessions.set(id, { createdAt: Date.now() });
    r.o2r.publish(JSON.stringify({ event: "reserved", session: id, timestamp: new Date().toISOString() }));
    return { status: 200, sessionId: id };
  }

  release(runnerId: string, sessionId: string): void {
    const r = this.runners.get(runnerId);
    if (r?.sessions.delete(sessionId)) {
      r.o2r.publish(
        JSON.stringify({ event: "released", session: sessionId, timestamp: new Date().toISOString() }),
      );
    }
  }

  sessionToken(r: Runner, sessionId: string): string {
    return createHmac("sha256", r.seed).update(`session:${sessionId}`).digest("hex");
  }

  private expired(r: Runner): boolean {
    return !r.static && Date.now() - r.lastHeartbeat > this.ttlMs;
  }

  private live(id: string): Runner | undefined {
    const r = this.runners.get(id);
    if (!r || r.removed || this.expired(r)) return undefined;
    return r;
  }

  private sweep(): void {
    for (const [id, r] of this.runners) {
      if (this.expired(r)) this.remove(id, r);
    }
  }

  /**
   * RegisterStaticRunnersJSON (ai/runner/live_runner.go: normalizeStaticLiveRunnerConfig, buildStaticRunner,
   * normalizeHeartbeat; all entries valid or none registered), then the health loop: GET health_url every
   * `healthEveryMs` with a 3 s timeout; any status but healthy_status_code is "unavailable" and releases sessions.
   */
  async registerStatic(
    doc: unknown,
    healthEveryMs = 5_000,
  ): Promise<
    | { status: 200; runners: Array<{ runner_id: string; label: string; healthy: boolean }> }
    | { status: 400; message: string }
  > {
    const entries = (doc as { runners?: unknown })?.runners;
    if (!Array.isArray(entries)) return { status: 400, message: "json: runners is not a list" };
    const built: Array<{
      body: Record<string, unknown>;
      label: string;
      healthUrl: string;
      code: number;
      routing: string;
    }> = [];
    const labels = new Set<string>();
    for (const [i, raw] of entries.entries()) {
      const e = { ...(raw as Record<string, unknown>) };
      const routing =
        typeof e.routing === "string" && e.routing.trim() !== "" ? e.routing.trim() : "runner-id";
      if (routing !== "runner-id" && routing !== "label")
        return { status: 400, message: `runners[${i}]: routing must be "runner-id" or "label"` };
      const code =
        e.healthy_status_code === undefined || e.healthy_status_code === 0
          ? 200
          : Number(e.healthy_status_code);
      let healthUrl = String(e.health_url ?? "");
      if (healthUrl.startsWith("/")) {
        try {
          const base = new URL(String(e.runner_url));
          if (base.host === "" || !/^https?:$/.test(base.protocol)) throw new Error();
        } catch {
          return { status: 400, message: `runners[${i}]: invalid runner_url` };
        }
        healthUrl = String(e.runner_url).replace(/\/+$/, "") + healthUrl;
      }
      const label = typeof e.label === "string" ? e.label : "";
      if (label === "" || label !== label.trim())
        return { status: 400, message: `runners[${i}]: label is required and must be trimmed` };
      if (healthUrl === "") return { status: 400, message: `runners[${i}]: health_url is required` };
      try {
        const h = new URL(healthUrl);
        if (h.host === "" || !/^https?:$/.test(h.protocol)) throw new Error();
      } catch {
        return { status: 400, message: `runners[${i}]: invalid health_url` };
      }
      if (!Number.isInteger(code) || code < 100 || code > 599)
        return {
          status: 400,
          message: `runners[${i}]: healthy_status_code must be a valid HTTP status code`,
        };
      const problem = this.normalize(e);
      if (problem !== null) return { status: 400, message: `runners[${i}]: ${problem}` };
      if (labels.has(label)) return { status: 400, message: `runners[${i}]: duplicate label "${label}"` };
      if (routing === "label" && label.includes("/"))
        return { status: 400, message: `runners[${i}]: label cannot contain / when routing is "label"` };
      labels.add(label);
      built.push({ body: e, label, healthUrl, code, routing });
    }
    const out: Array<{ runner_id: string; label: string; healthy: boolean }> = [];
    for (const b of built) {
      const healthy = await this.healthy(b.healthUrl, b.code);
      const id = b.routing === "label" ? b.label : `runner_${randomBytes(5).toString("hex")}`;
      const seed = randomBytes(32);
      const r: Runner = {
        id,
        seed,
        heartbeatSecret: "",
        static: { label: b.label, healthUrl: b.healthUrl, healthyStatusCode: b.code },
        req: { ...b.body, status: healthy ? "ready" : "unavailable" },
        lastHeartbeat: Date.now(),
        removed: false,
        sessions: new Map(),
        o2r: new Channel(),
      };
      this.runners.set(id, r);
      out.push({ runner_id: id, label: b.label, healthy });
    }
    const loop = setInterval(() => void this.checkStatic(), healthEveryMs);
    this.healthLoops.push(loop);
    return { status: 200, runners: out };
  }

  private readonly healthLoops: NodeJS.Timeout[] = [];

  private async checkStatic(): Promise<void> {
    for (const [id, r] of this.runners) {
      if (!r.static) continue;
      const healthy = await this.healthy(r.static.healthUrl, r.static.healthyStatusCode);
      r.req.status = healthy ? "ready" : "unavailable";
      if (!healthy) for (const sid of [...r.sessions.keys()]) this.release(id, sid);
    }
  }

  private async healthy(url: string, code: number): Promise<boolean> {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
      await res.arrayBuffer();
      return res.status === code;
    } catch {
      return false;
    }
  }

  private remove(id: string, r: Runner): void {
    r.removed = true;
    r.o2r.close();
    for (const sid of [...r.sessions.keys()]) this.release(id, sid);
    this.runners.delete(id);
  }

  private makeServer(): Server {
    const server = createServer((req, res) => {
      this.route(req, res).catch((err: Error) => {
        if (!res.headersSent) fail(res, 500, err.message);
        else res.destroy();
      });
    });
    server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    return server;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const p = url.pathname;
    const post = req.method === "POST";
    if (post && p === "/runners/heartbeat") return this.onHeartbeat(req, res);
    const unregister = post ? /^\/runners\/([^/]+)\/unregister$/.exec(p) : null;
    if (unregister) return this.onUnregister(decodeURIComponent(unregister[1] as string), req, res);
    const trickle = req.method === "GET" ? /^\/ai\/trickle\/([^/]+)\/(-?\d+)$/.exec(p) : null;
    if (trickle) {
      const r = [...this.runners.values()].find((x) => this.channelName(x) === trickle[1]);
      if (!r || r.o2r.closed) return fail(res, 404, "Stream not found");
      return r.o2r.read(Number(trickle[2]), res);
    }
    const reserve = post ? /^\/apps\/([^/]+)\/session$/.exec(p) : null;
    if (reserve) return this.onReserve(reserve[1] as string, res);
    const stop = post ? /^\/apps\/([^/]+)\/session\/([^/]+)\/stop$/.exec(p) : null;
    if (stop) {
      if (!this.live(stop[1] as string)) return fail(res, 404, "runner not found");
      this.release(stop[1] as string, stop[2] as string);
      res.writeHead(204).end();
      return;
    }
    const persistent = /^\/apps\/([^/]+)\/session\/([^/]+)\/app\/(.*)$/.exec(p);
    if (persistent) {
      const r = this.live(persistent[1] as string);
      if (!r || !this.isReady(r)) return fail(res, 404, "runner not found");
      const sid = persistent[2] as string;
      if (!r.sessions.has(sid)) return fail(res, 404, "runner session not found");
      return this.proxy(req, res, r, sid, persistent[3] as string, url.search);
    }
    const single = /^\/apps\/([^/]+)\/app\/(.*)$/.exec(p);
    if (single) return this.onSingleShot(single[1] as string, single[2] as string, url.search, req, res);
    fail(res, 404, "404 page not found");
  }

  /** ReserveLiveRunnerSession: persistent runners only. */
  private onReserve(id: string, res: ServerResponse): void {
    const r = this.live(id);
    if (r && r.req.mode !== "persistent") {
      fail(res, 400, "only persistent runners have sessions");
      return;
    }
    const out = this.reserve(id);
    if (out.status !== 200) {
      fail(res, out.status, out.message ?? "");
      return;
    }
    json(res, 200, {
      session_id: out.sessionId,
      app_url: `${this.url}/apps/${id}/session/${out.sessionId}/app`,
      control_url: `${this.url}/apps/${id}/session/${out.sessionId}`,
    });
  }

  /** ProxyLiveRunnerSingleShot: reserve, proxy, release once the response is done. */
  private async onSingleShot(
    id: string,
    appPath: string,
    search: string,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const r = this.live(id);
    if (!r || !this.isReady(r)) return fail(res, 404, "runner not found");
    if (r.req.mode !== "single-shot") return fail(res, 400, "runner is not single-shot");
    const out = this.reserve(id);
    if (out.status !== 200) return fail(res, out.status, out.message ?? "");
    try {
      await this.proxy(req, res, r, out.sessionId as string, appPath, search);
    } finally {
      this.release(id, out.sessionId as string);
    }
  }

  private channelName(r: Runner): string {
    return `${r.id}-${createHmac("sha256", r.seed).update("trickle:o2r").digest("hex").slice(0, 16)}-o2r`;
  }

  private async onHeartbeat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = req.headers.authorization ?? null;
    let sent: Record<string, unknown> | null = null;
    const log = (status: number, _body: Record<string, unknown> | null) =>
      this.heartbeats.push({ at: Date.now(), authorization: auth, body: sent, status });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(await readBody(req));
      sent = structuredClone(body); // as the runner sent it, before normalizeHeartbeat
    } catch (err) {
      log(400, null);
      return fail(res, 400, (err as Error).message);
    }
    const problem = this.normalize(body);
    if (problem !== null) {
      log(400, body);
      return fail(res, 400, problem);
    }
    let id = typeof body.runner_id === "string" ? body.runner_id.trim() : "";
    if (id === "") id = `runner_${randomBytes(5).toString("hex")}`;
    const existing = this.runners.get(id);
    if (existing === undefined) {
      if (this.options.secret === null) {
        log(404, body);
        return fail(res, 404, "dynamic live runner registration is disabled");
      }
      if (!same(auth ?? "", this.options.secret)) {
        log(401, body);
        return fail(res, 401, "invalid registration authorization");
      }
      const seed = randomBytes(32);
      const r: Runner = {
        id,
        seed,
        heartbeatSecret: createHmac("sha256", seed).update("heartbeat").digest("hex"),
        req: body,
        lastHeartbeat: Date.now(),
        removed: false,
        sessions: new Map(),
        o2r: new Channel(),
      };
      this.runners.set(id, r);
      log(200, body);
      return json(res, 200, {
        runner_id: id,
        orchestrator: this.url,
        heartbeat_interval: goDuration(this.intervalMs),
        heartbeat_ttl: goDuration(this.ttlMs),
        heartbeat_secret: r.heartbeatSecret,
        o2r: {
          name: "o2r",
          channel_name: this.channelName(r),
          url: `${this.url}/ai/trickle/${this.channelName(r)}`,
          mime_type: "application/json",
        },
        session_ids: [],
      });
    }
    if (existing.removed || this.expired(existing)) {
      log(404, body);
      return fail(res, 404, "runner not found");
    }
    if (!same(auth ?? "", existing.heartbeatSecret)) {
      log(401, body);
      return fail(res, 401, "invalid heartbeat authorization");
    }
    if (existing.static) {
      log(400, body);
      return fail(res, 400, "static runner cannot heartbeat");
    }
    existing.req = body;
    existing.lastHeartbeat = Date.now();
    log(200, body);
    const ids = [...existing.sessions.entries()]
      .sort((a, b) => a[1].createdAt - b[1].createdAt)
      .map(([k]) => k);
    return json(res, 200, {
      runner_id: id,
      orchestrator: this.url,
      heartbeat_interval: goDuration(this.intervalMs),
      heartbeat_ttl: goDuration(this.ttlMs),
      session_ids: ids,
    });
  }

  /** normalizeHeartbeat; mutates body as Go does (mode default, alias, capacity 0 → 1). */
  private normalize(b: Record<string, unknown>): string | null {
    let u: URL;
    try {
      u = new URL(String(b.runner_url ?? ""));
    } catch {
      return "invalid runner_url";
    }
    if (u.host === "" || (u.protocol !== "http:" && u.protocol !== "https:")) return "invalid runner_url";
    if (typeof b.app !== "string" || b.app === "" || b.app !== b.app.trim()) return "app must be trimmed";
    // ValidateLiveRunnerMetadata: at most 1024 bytes of valid UTF-8 without U+FFFD (invalid UTF-8 decodes to it).
    const metadata = typeof b.metadata === "string" ? b.metadata : "";
    if (Buffer.byteLength(metadata, "utf8") > 1024) return "metadata must be at most 1024 bytes";
    if (metadata.includes("\uFFFD")) return "metadata must not contain Unicode replacement character U+FFFD";
    const status = typeof b.status === "string" ? b.status : "";
    if (status !== status.trim().toLowerCase()) return "status must be lowercase and trimmed";
    let mode = typeof b.mode === "string" && b.mode !== "" ? b.mode : "persistent";
    if (mode === "single_shot") mode = "single-shot";
    if (mode !== "persistent" && mode !== "single-shot") return 'mode must be "persistent" or "single-shot"';
    b.mode = mode;
    const capacity = Number(b.capacity ?? 0);
    if (!Number.isInteger(capacity)) return "json: cannot unmarshal capacity";
    if (capacity < 0) return "capacity must be >= 0";
    b.capacity = capacity === 0 ? 1 : capacity;
    if (!this.options.onchain) return null;
    const price = (b.price_info as Record<string, unknown> | undefined) ?? {};
    if (price.price === undefined || price.price === "") return "price_info.price is required";
    if (!(Number(price.price) > 0)) return "price_info.price must be a positive decimal";
    if (String(price.currency ?? "usd").toLowerCase() !== "usd") return "price_info.currency must be usd";
    if (!["hour", "720p", "fixed", ""].includes(String(price.unit ?? "").toLowerCase()))
      return "price_info.unit must be hour, 720p, or fixed";
    return null;
  }

  private onUnregister(id: string, req: IncomingMessage, res: ServerResponse): void {
    const r = this.runners.get(id);
    const status =
      !r || r.removed || Date.now() - r.lastHeartbeat > this.ttlMs
        ? 404
        : !same(req.headers.authorization ?? "", r.heartbeatSecret)
          ? 401
          : 204;
    this.unregisters.push({ runnerId: id, status });
    if (status !== 204) {
      fail(res, status, status === 404 ? "runner not found" : "invalid authorization");
      return;
    }
    this.remove(id, r as Runner);
    res.writeHead(204).end();
  }

  private proxy(
    req: IncomingMessage,
    res: ServerResponse,
    r: Runner,
    sessionId: string,
    appPath: string,
    search: string,
  ): Promise<void> {
    const target = new URL(String(r.req.runner_url));
    const path = `${`/${target.pathname}/${appPath}`.replace(/\/+/g, "/")}${search}`;
    const headers: Record<string, string | string[]> = {};
    const connectionListed = String(req.headers.connection ?? "")
      .split(",")
      .map((h) => h.trim().toLowerCase());
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || DROPPED.has(k) || connectionListed.includes(k)) continue;
      headers[k] = v;
    }
    headers.host = target.host;
    headers["livepeer-runner-route"] = r.id;
    headers["livepeer-session-id"] = sessionId;
    headers["livepeer-session-token"] = this.sessionToken(r, sessionId);
    headers["livepeer-session-control"] = `${this.url}/runner/${r.id}/session/${sessionId}`;
    this.proxied.push({ path, headers: { ...headers } as IncomingHttpHeaders });
    return new Promise<void>((resolve) => {
      const out = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path, headers },
        (up) => {
          const back: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(up.headers))
            if (v !== undefined && !DROPPED.has(k)) back[k] = v;
          res.writeHead(up.statusCode ?? 502, back);
          res.flushHeaders();
          up.on("data", (chunk) => res.write(chunk));
          up.on("end", () => {
            res.end();
            resolve();
          });
          up.on("error", () => {
            res.destroy();
            resolve();
          });
        },
      );
      out.on("error", (err) => {
        if (!res.headersSent) fail(res, 502, err.message);
        else res.destroy();
        resolve();
      });
      // The client went away: the upstream request is cancelled with it (ReverseProxy uses the request's context).
      res.on("close", () => {
        if (!res.writableFinished) out.destroy();
        resolve();
      });
      req.pipe(out);
    });
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** time.Duration.String() for whole seconds or milliseconds. */
function goDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function fail(res: ServerResponse, status: number, message: string): void {
  // http.Error: text/plain, X-Content-Type-Options nosniff, the message and a newline.
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" });
  res.end(`${message}\n`);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
