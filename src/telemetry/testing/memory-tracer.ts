// The SDK adapter with an in-memory exporter: unit tests read the finished spans after flush().
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { OtelTracer } from "../otel-tracer.js";
import type { SamplerName, TracingConfig } from "../tracing-config.js";

export interface MemoryTracer {
  tracer: OtelTracer;
  /** Flushes, then the spans finished so far. */
  spans(): Promise<ReadableSpan[]>;
}

export function memoryTracer(sampler: SamplerName = "parentbased_always_on", ratio = 1): MemoryTracer {
  const exporter = new InMemorySpanExporter();
  const config: TracingConfig = {
    tracesUrl: "http://127.0.0.1:9/v1/traces",
    headers: null,
    serviceName: "test",
    sampler,
    ratio,
  };
  // Everything a test makes is kept until its flush (the SDK's default queue drops beyond 2048 spans).
  const tracer = new OtelTracer({
    config,
    exporter,
    batch: { maxQueueSize: 1 << 16, maxExportBatchSize: 1 << 16, scheduledDelayMillis: 3_600_000 },
  });
  return {
    tracer,
    async spans() {
      await tracer.flush();
      return exporter.getFinishedSpans();
    },
  };
}
