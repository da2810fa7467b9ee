// The tracing port over the OpenTelemetry JS SDK: a BasicTracerProvider with a batch processor and the OTLP/HTTP
// exporter (JSON), W3C trace-context propagation, the sampler OTEL_TRACES_SAMPLER names. Loaded only when tracing
// is on (open-tracer.ts imports this file dynamically). Nothing is registered globally: spans are parented
// explicitly, so no context manager is needed and other libraries' OpenTelemetry use is left alone.
import {
  type Tracer as ApiTracer,
  type Context,
  type Span as OtelSpan,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { parseKeyPairsIntoRecord, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  type BufferConfig,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import { VERSION } from "../version.js";
import type { Attributes, RemoteParent, Span, SpanOptions, Tracer } from "./tracer.js";
import type { SamplerName, TracingConfig } from "./tracing-config.js";

const KINDS = { server: SpanKind.SERVER, client: SpanKind.CLIENT, internal: SpanKind.INTERNAL } as const;

class OtelSpanHandle implements Span {
  readonly recording: boolean;

  constructor(readonly inner: OtelSpan) {
    this.recording = inner.isRecording();
  }

  set(attributes: Attributes): void {
    if (this.recording) this.inner.setAttributes(attributes);
  }

  event(name: string, attributes?: Attributes): void {
    if (this.recording) this.inner.addEvent(name, attributes);
  }

  fail(errorType: string, message?: string): void {
    if (!this.recording) return;
    this.inner.setAttribute("error.type", errorType);
    this.inner.setStatus({ code: SpanStatusCode.ERROR, ...(message ? { message } : {}) });
  }

  end(at?: number): void {
    this.inner.end(at);
  }
}

class Remote implements RemoteParent {
  readonly remote = true;
  constructor(readonly context: Context) {}
}

const headerGetter = {
  get: (carrier: (name: string) => string | undefined, key: string) => carrier(key),
  keys: () => [],
};
const headerSetter = {
  set: (carrier: Record<string, string>, key: string, value: string) => {
    carrier[key] = value;
  },
};

export interface OtelTracerOptions {
  config: TracingConfig;
  /** Resource attributes beside service.name and service.version (the process's role, its pid). */
  resource?: Attributes;
  /** Default: the OTLP/HTTP exporter to config.tracesUrl (tests and the bench pass their own). */
  exporter?: SpanExporter;
  /** The batch processor's sizes; default the SDK's (OTEL_BSP_* or 2048 queued, 512 per export, every 5 s). */
  batch?: BufferConfig;
}

export class OtelTracer implements Tracer {
  readonly enabled = true;
  private readonly provider: BasicTracerProvider;
  private readonly tracer: ApiTracer;
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(options: OtelTracerOptions) {
    const { config } = options;
    const exporter =
      options.exporter ??
      new OTLPTraceExporter({
        url: config.tracesUrl,
        ...(config.headers ? { headers: parseKeyPairsIntoRecord(config.headers) } : {}),
      });
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({
        [ATTR_SERVICE_NAME]: config.serviceName,
        [ATTR_SERVICE_VERSION]: VERSION,
        ...options.resource,
      }),
      sampler: samplerFor(config.sampler, config.ratio),
      spanProcessors: [new BatchSpanProcessor(exporter, options.batch)],
    });
    this.tracer = this.provider.getTracer("llm-runner", VERSION);
  }

  startSpan(name: string, options: SpanOptions = {}): Span {
    const inner = this.tracer.startSpan(
      name,
      {
        kind: KINDS[options.kind ?? "internal"],
        ...(options.attributes ? { attributes: options.attributes } : {}),
        ...(options.startTime !== undefined ? { startTime: options.startTime } : {}),
      },
      contextOf(options.parent),
    );
    return new OtelSpanHandle(inner);
  }

  extract(header: (name: string) => string | undefined): RemoteParent | null {
    const ctx = this.propagator.extract(ROOT_CONTEXT, header, headerGetter);
    return trace.getSpanContext(ctx) === undefined ? null : new Remote(ctx);
  }

  inject(span: Span): Record<string, string> {
    const headers: Record<string, string> = {};
    if (span instanceof OtelSpanHandle)
      this.propagator.inject(trace.setSpan(ROOT_CONTEXT, span.inner), headers, headerSetter);
    return headers;
  }

  flush(): Promise<void> {
    return this.provider.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}

function contextOf(parent: Span | RemoteParent | null | undefined): Context {
  if (parent instanceof OtelSpanHandle) return trace.setSpan(ROOT_CONTEXT, parent.inner);
  if (parent instanceof Remote) return parent.context;
  return ROOT_CONTEXT;
}

/** The sampler OTEL_TRACES_SAMPLER names (OpenTelemetry SDK environment variables spec, "General SDK Configuration"). */
export function samplerFor(name: SamplerName, ratio: number): Sampler {
  switch (name) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
  }
}
