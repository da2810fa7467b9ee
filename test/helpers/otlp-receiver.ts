// A real OTLP/HTTP trace receiver for tests: POST /v1/traces with the JSON encoding of
// ExportTraceServiceRequest (OTLP specification, "OTLP/HTTP": JSON Protobuf Encoding; trace and span ids as hex
// strings, enums as numbers, 64-bit integers as numbers or strings), decoded into flat spans.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type AttrValue = string | number | boolean | AttrValue[] | null;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, AttrValue>;
  events: Array<{ name: string; attributes: Record<string, AttrValue> }>;
  /** OTLP Status.code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  resource: Record<string, AttrValue>;
}

interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number;
  arrayValue?: { values?: OtlpAnyValue[] };
}
type OtlpAttributes = Array<{ key: string; value: OtlpAnyValue }> | undefined;

function value(v: OtlpAnyValue): AttrValue {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(value);
  return null;
}

function attributes(list: OtlpAttributes): Record<string, AttrValue> {
  return Object.fromEntries((list ?? []).map((a) => [a.key, value(a.value)]));
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  attributes?: OtlpAttributes;
  events?: Array<{ name: string; attributes?: OtlpAttributes }>;
  status?: { code?: number; message?: string };
}

interface ExportTraceServiceRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpAttributes };
    scopeSpans?: Array<{ spans?: OtlpSpan[] }>;
  }>;
}

export function decodeExport(body: ExportTraceServiceRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? "",
          name: s.name,
          kind: s.kind,
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          attributes: attributes(s.attributes),
          events: (s.events ?? []).map((e) => ({ name: e.name, attributes: attributes(e.attributes) })),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? "" },
          resource,
        });
      }
    }
  }
  return out;
}

export interface OtlpReceiver {
  /** The base URL, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  readonly spans: ReceivedSpan[];
  /** The headers of each export request (content type, OTEL_EXPORTER_OTLP_HEADERS). */
  readonly requests: Array<{ path: string; headers: Record<string, string | string[] | undefined> }>;
  /** Resolves once `match` holds for the spans received so far (checked as exports arrive). */
  waitFor(match: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: OtlpReceiver["requests"] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({ path: req.url ?? "", headers: req.headers });
      if (
        req.method !== "POST" ||
        req.url !== "/v1/traces" ||
        !req.headers["content-type"]?.startsWith("application/json")
      ) {
        res.writeHead(415).end();
        return;
      }
      spans.push(
        ...decodeExport(JSON.parse(Buffer.concat(chunks).toString("utf8")) as ExportTraceServiceRequest),
      );
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
      for (const wake of [...waiters]) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    waitFor(match, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!match(spans)) return;
          cleanup();
          resolve(spans);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out; spans so far: ${spans.map((s) => s.name).join(", ")}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
