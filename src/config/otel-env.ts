// The standard OpenTelemetry variables llm-runner reads for its traces, by the OpenTelemetry specification:
// "SDK environment variables" (an empty value is the same as unset; OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER and
// its _ARG) and "OTLP exporter configuration" (OTEL_EXPORTER_OTLP_ENDPOINT + "v1/traces", or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is; OTEL_EXPORTER_OTLP_HEADERS as "key=value" pairs).
import { SAMPLERS, type SamplerName, type TracingConfig } from "../telemetry/tracing-config.js";
import { type Check, decimal, Invalid, oneOf, trimmedText } from "./env-checks.js";

/** An OpenTelemetry variable: set but empty reads as unset (the specification's rule for every OTEL_* variable). */
export function emptyIsUnset<T, F>(check: Check<T>, fallback: F): Check<T | F> {
  return (raw) => (raw === "" ? fallback : check(raw));
}

/** An OTLP/HTTP address: http(s), no query or fragment (llm-runner's exporter speaks OTLP over HTTP, not gRPC). */
export const otlpUrl: Check<string> = (raw) => {
  const fix =
    "Set it to the collector's OTLP/HTTP address, e.g. \"http://localhost:4318\" (OTLP over HTTP, not gRPC's 4317).";
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return new Invalid(`is not a URL. ${fix}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return new Invalid(`must be an http(s) URL. ${fix}`);
  if (url.search || url.hash) return new Invalid(`must not have a query or fragment. ${fix}`);
  return raw.trim();
};

// A W3C Baggage-style list, as the OTLP exporter spec defines OTEL_EXPORTER_OTLP_HEADERS: key=value pairs, the
// key an HTTP token (RFC 9110), the value percent-encoded.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

// The messages never quote the value: it carries the backend's API key.
export const otlpHeaders: Check<string> = (raw) => {
  const fix =
    'Write it as comma-separated key=value pairs, e.g. "x-honeycomb-team=KEY,x-scope=llm" (values percent-encoded).';
  const members = raw.split(",");
  for (const [i, member] of members.entries()) {
    const at = members.length > 1 ? ` (entry ${i + 1})` : "";
    const eq = member.indexOf("=");
    if (member.trim() === "") return new Invalid(`has an empty entry${at}. ${fix}`);
    if (eq < 0) return new Invalid(`has an entry without "="${at}. ${fix}`);
    if (!HEADER_NAME.test(member.slice(0, eq).trim()))
      return new Invalid(`has an entry whose name is not an HTTP header name${at}. ${fix}`);
    try {
      decodeURIComponent(member.slice(eq + 1).trim());
    } catch {
      return new Invalid(`has a value that is not valid percent-encoding${at}. ${fix}`);
    }
  }
  return raw;
};

const REMOTE_SAMPLERS = new Set(["jaeger_remote", "parentbased_jaeger_remote", "xray"]);

export const sampler: Check<SamplerName> = (raw) => {
  if (REMOTE_SAMPLERS.has(raw.trim().toLowerCase()))
    return new Invalid(
      `names a remote sampler, which llm-runner does not build. Use one of: ${SAMPLERS.join(", ")}.`,
    );
  return oneOf(SAMPLERS)(raw);
};

export const samplerRatio: Check<number> = decimal({
  min: 0,
  max: 1,
  example: "0.01",
  what: " (the ratio of traces sampled, for the traceidratio samplers)",
});

export const serviceName: Check<string> = trimmedText('a service name, e.g. "llm-runner-gpu1"', 255);

/** The parsed OTEL_* values (env-schema.ts). */
export interface OtelValues {
  OTEL_EXPORTER_OTLP_ENDPOINT: string | null;
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: string | null;
  OTEL_EXPORTER_OTLP_HEADERS: string | null;
  OTEL_SERVICE_NAME: string;
  OTEL_TRACES_SAMPLER: SamplerName;
  OTEL_TRACES_SAMPLER_ARG: number | null;
}

/** Tracing is on when either endpoint is set; the base endpoint gets "v1/traces" appended, the traces one does not. */
export function tracingConfig(v: OtelValues): TracingConfig | null {
  const base = v.OTEL_EXPORTER_OTLP_ENDPOINT;
  const tracesUrl =
    v.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (base === null ? null : `${base}${base.endsWith("/") ? "" : "/"}v1/traces`);
  if (tracesUrl === null) return null;
  return {
    tracesUrl,
    headers: v.OTEL_EXPORTER_OTLP_HEADERS,
    serviceName: v.OTEL_SERVICE_NAME,
    sampler: v.OTEL_TRACES_SAMPLER,
    ratio: v.OTEL_TRACES_SAMPLER_ARG ?? 1,
  };
}

/** Settings that change nothing as set: said once at start. */
export function tracingNotes(v: Partial<OtelValues>): string[] {
  const notes: string[] = [];
  const on =
    (v.OTEL_EXPORTER_OTLP_ENDPOINT ?? null) !== null ||
    (v.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? null) !== null;
  if (!on && (v.OTEL_EXPORTER_OTLP_HEADERS ?? null) !== null)
    notes.push(
      "OTEL_EXPORTER_OTLP_HEADERS is set but tracing is off: set OTEL_EXPORTER_OTLP_ENDPOINT to export traces.",
    );
  if ((v.OTEL_TRACES_SAMPLER_ARG ?? null) !== null && !v.OTEL_TRACES_SAMPLER?.endsWith("traceidratio"))
    notes.push(
      `OTEL_TRACES_SAMPLER_ARG is only read by the traceidratio samplers; ignored with OTEL_TRACES_SAMPLER=${v.OTEL_TRACES_SAMPLER ?? "parentbased_always_on"}.`,
    );
  return notes;
}
