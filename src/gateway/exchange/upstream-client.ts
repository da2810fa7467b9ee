import { Pool } from "undici";
import type { EngineEndpoint } from "../../supervisor/types.js";

export interface UpstreamRequest {
  endpoint: EngineEndpoint;
  method: "GET" | "POST";
  path: string; // "/v1/chat/completions"
  body?: string; // JSON
  requestId?: string;
  /** Headers of our own beside those the client builds (the request's trace context, `traceparent`). */
  headers?: Readonly<Record<string, string>>;
  /** Aborting it tears the upstream request down at once (the engine sees the disconnect and frees the slot). */
  signal: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  contentType: string | null;
  /** The body as it arrives; consume it once, or call text(), or discard(). */
  body: AsyncIterable<Uint8Array>;
  text(): Promise<string>;
  discard(): void;
}

/** How the gateway talks to the engine (a fake in unit tests; undici pools in production). */
export interface UpstreamClient {
  send(request: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

/** The engine could not be reached or dropped the connection (not an abort we asked for). */
export class UpstreamConnectError extends Error {
  override readonly name = "UpstreamConnectError";
}

export interface UndiciUpstreamOptions {
  /** Connections per engine: keep it above MAX_NUM_SEQS + QUEUE_SIZE so no stream waits for a socket. */
  connections: number;
}

/**
 * undici Pools, one per engine generation. Headers are built here from scratch — nothing the client sent
 * reaches the engine except the body — and carry the engine's own per-start API key.
 */
export class UndiciUpstreamClient implements UpstreamClient {
  private readonly pools = new Map<string, { replica: number; generation: number; pool: Pool }>();

  constructor(private readonly options: UndiciUpstreamOptions) {}

  private poolFor(endpoint: EngineEndpoint): Pool {
    const key = `${endpoint.replica ?? 0}|${endpoint.generation}|${endpoint.baseUrl}`;
    const found = this.pools.get(key);
    if (found) return found.pool;
    // A new engine generation of this replica: its old engine is gone, so are its sockets (other replicas' stay).
    const replica = endpoint.replica ?? 0;
    for (const [oldKey, old] of this.pools) {
      if (old.replica === replica && old.generation < endpoint.generation) {
        this.pools.delete(oldKey);
        old.pool.destroy().catch(() => {});
      }
    }
    const pool = new Pool(endpoint.baseUrl, {
      connections: this.options.connections,
      pipelining: 1,
      // Non-streaming completions send headers only when done, and streams may sit in the engine's queue:
      // the supervisor's hang watchdog (ticket.signal) bounds those waits, not a socket timer.
      headersTimeout: 0,
      bodyTimeout: 0,
      keepAliveTimeout: 30_000,
    });
    this.pools.set(key, { replica, generation: endpoint.generation, pool });
    return pool;
  }

  async send(request: UpstreamRequest): Promise<UpstreamResponse> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${request.endpoint.apiKey}`,
      accept: "application/json, text/event-stream",
    };
    if (request.body !== undefined) headers["content-type"] = "application/json";
    if (request.requestId !== undefined) headers["x-request-id"] = request.requestId;
    if (request.headers !== undefined)
      for (const name in request.headers) headers[name] = request.headers[name] as string;
    let res: Awaited<ReturnType<Pool["request"]>>;
    try {
      res = await this.poolFor(request.endpoint).request({
        method: request.method,
        path: request.path,
        headers,
        body: request.body ?? null,
        signal: request.signal,
      });
    } catch (err) {
      if (request.signal.aborted) throw err;
      throw new UpstreamConnectError(err instanceof Error ? err.message : String(err), { cause: err });
    }
    const contentType = res.headers["content-type"];
    const body = res.body;
    return {
      status: res.statusCode,
      contentType: typeof contentType === "string" ? contentType : null,
      body,
      text: () => body.text(),
      discard: () => {
        body.dump().catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.pool.destroy().catch(() => {})));
  }
}
