// The few calls a runner makes to its orchestrator, on undici with short timeouts: a slow or dead orchestrator
// must never hold up serving. go-livepeer answers errors with http.Error (server/handlers.go respondWithError):
// a short text/plain line, which is shown; any other error body (an HTML page from a proxy) is not.
import { Agent, type Dispatcher, request } from "undici";

export type OrchestratorAnswer =
  | { kind: "ok"; status: number; body: unknown }
  | { kind: "status"; status: number; message: string }
  | { kind: "unreachable"; message: string }
  | { kind: "garbage"; status: number; message: string };

export interface OrchestratorHttp {
  post(url: string, body: unknown, authorization: string | null): Promise<OrchestratorAnswer>;
  /** A GET whose body is read whole (a trickle segment); null body on errors. */
  get(
    url: string,
    signal: AbortSignal,
  ): Promise<{ status: number; headers: Record<string, string>; text: string } | { error: string }>;
  close(): Promise<void>;
}

const MAX_REPLY_BYTES = 256 * 1024;

export function undiciOrchestratorHttp(options: {
  tlsInsecure: boolean;
  timeoutMs?: number;
}): OrchestratorHttp {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const agent = new Agent({
    connect: { rejectUnauthorized: !options.tlsInsecure, timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  return {
    async post(url, body, authorization) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (authorization !== null) headers.authorization = authorization;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(url, {
          method: "POST",
          headers,
          body: body === undefined ? "" : JSON.stringify(body),
          dispatcher: agent,
          signal: AbortSignal.timeout(timeoutMs * 2),
        });
      } catch (err) {
        return { kind: "unreachable", message: networkMessage(err, options.tlsInsecure) };
      }
      let text: string;
      try {
        text = await readCapped(res.body, MAX_REPLY_BYTES);
      } catch (err) {
        return { kind: "garbage", status: res.statusCode, message: (err as Error).message };
      }
      const type = String(res.headers["content-type"] ?? "");
      if (res.statusCode >= 200 && res.statusCode < 300) {
        if (text === "") return { kind: "ok", status: res.statusCode, body: null };
        try {
          return { kind: "ok", status: res.statusCode, body: JSON.parse(text) };
        } catch {
          return {
            kind: "garbage",
            status: res.statusCode,
            message: `HTTP ${res.statusCode} with a body that is not JSON (${type || "no content type"})`,
          };
        }
      }
      return { kind: "status", status: res.statusCode, message: errorLine(text, type) };
    },
    async get(url, signal) {
      try {
        const res = await request(url, { method: "GET", dispatcher: agent, signal, bodyTimeout: 0 });
        const text = await readCapped(res.body, MAX_REPLY_BYTES);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") headers[k] = v;
        return { status: res.statusCode, headers, text };
      } catch (err) {
        return { error: networkMessage(err, options.tlsInsecure) };
      }
    },
    close: () => agent.close(),
  };
}

async function readCapped(body: Dispatcher.ResponseData["body"], max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > max) {
      body.destroy();
      throw new Error(`the reply is larger than ${max} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The orchestrator's own one-line error text; nothing from other bodies. */
function errorLine(text: string, type: string): string {
  const line = text.trim();
  if (type.startsWith("text/plain") && line !== "" && line.length <= 300 && !/[\r\n<]/.test(line))
    return line;
  return type === "" ? "no message" : `a ${type.split(";")[0]} body`;
}

function networkMessage(err: unknown, tlsInsecure: boolean): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code ?? "";
  const message = e.cause?.message ?? e.message ?? String(err);
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code) && !tlsInsecure)
    return `TLS certificate refused (${code}): go-livepeer serves a self-signed certificate by default; set LIVE_RUNNER_TLS_INSECURE=true, or give the orchestrator a certificate this machine trusts`;
  return code ? `${code}: ${message}` : message;
}
