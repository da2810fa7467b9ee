// The tracing port the gateway, the supervisor and the instance receive. With tracing off it is NOOP_TRACER: no
// OpenTelemetry module is loaded and every call returns at once; with OTEL_EXPORTER_OTLP_ENDPOINT set,
// open-tracer.ts loads the SDK adapter (otel-tracer.ts) behind the same interface.

export type AttributeValue = string | number | boolean | string[];
/** Span attributes; undefined values are left out. */
export type Attributes = Record<string, AttributeValue | undefined>;

export interface Span {
  /** False for the no-op span and for spans the sampler dropped: callers may skip work that only feeds attributes. */
  readonly recording: boolean;
  set(attributes: Attributes): void;
  event(name: string, attributes?: Attributes): void;
  /** Marks the span failed: status ERROR with `message`, and `error.type` (OpenTelemetry's recording-errors rule). */
  fail(errorType: string, message?: string): void;
  /** Ends the span (later calls do nothing); `at` in epoch milliseconds, default now. */
  end(at?: number): void;
}

/** A parent from elsewhere: an incoming W3C `traceparent`, opaque to callers. */
export interface RemoteParent {
  readonly remote: true;
}

export interface SpanOptions {
  parent?: Span | RemoteParent | null;
  kind?: "server" | "client" | "internal";
  attributes?: Attributes;
  /** Epoch milliseconds; default now. */
  startTime?: number;
}

export interface Tracer {
  /** False for NOOP_TRACER: callers leave out what only tracing needs (a middleware, a header). */
  readonly enabled: boolean;
  startSpan(name: string, options?: SpanOptions): Span;
  /** The W3C trace context in request headers (`traceparent`, `tracestate`), or null when there is none. */
  extract(header: (name: string) => string | undefined): RemoteParent | null;
  /** The W3C headers that make `span` the parent of the callee's spans; {} when it carries no context. */
  inject(span: Span): Record<string, string>;
  /** Exports what is buffered (on shutdown). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export const NOOP_SPAN: Span = {
  recording: false,
  set() {},
  event() {},
  fail() {},
  end() {},
};

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

export const NOOP_TRACER: Tracer = {
  enabled: false,
  startSpan: () => NOOP_SPAN,
  extract: () => null,
  inject: () => NO_HEADERS,
  flush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

/**
 * Now, in epoch milliseconds at the monotonic clock's resolution: one instant to pass to the spans that end (or
 * end and start) together, since each SDK span reads the wall clock on its own (up to ≈ 1 ms apart).
 */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
