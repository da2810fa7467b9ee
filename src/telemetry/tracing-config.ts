// What tracing is configured with (config/otel-env.ts reads it from the standard OpenTelemetry variables).

/**
 * The OTEL_TRACES_SAMPLER values llm-runner builds (the SDK environment spec's list without the remote ones:
 * jaeger_remote and xray need a sampling service).
 */
export const SAMPLERS = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

export interface TracingConfig {
  /** Where spans go (OTLP/HTTP): OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
  tracesUrl: string;
  /** OTEL_EXPORTER_OTLP_HEADERS as given ("key=value,…", values percent-encoded); null when unset. Secret. */
  headers: string | null;
  serviceName: string; // OTEL_SERVICE_NAME
  sampler: SamplerName; // OTEL_TRACES_SAMPLER
  /** OTEL_TRACES_SAMPLER_ARG: the ratio of the traceidratio samplers (default 1.0). */
  ratio: number;
}
