import type { Logger } from "../log/logger.js";
import type { Attributes, Tracer } from "./tracer.js";
import { NOOP_TRACER } from "./tracer.js";
import type { TracingConfig } from "./tracing-config.js";

/**
 * The process's tracer: NOOP_TRACER when tracing is off (nothing of OpenTelemetry is loaded), else the SDK
 * adapter, imported only now so a runner without OTEL_EXPORTER_OTLP_ENDPOINT never loads the SDK.
 */
export async function openTracer(config: TracingConfig | null, resource: Attributes = {}): Promise<Tracer> {
  if (config === null) return NOOP_TRACER;
  const { OtelTracer } = await import("./otel-tracer.js");
  return new OtelTracer({ config, resource: { "process.pid": process.pid, ...resource } });
}

/** Exports what is buffered before the process ends, for at most `withinMs`: a collector that is down delays no stop. */
export async function closeTracer(tracer: Tracer, logger: Logger, withinMs = 5_000): Promise<void> {
  if (!tracer.enabled) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), withinMs);
  });
  try {
    const outcome = await Promise.race([tracer.shutdown().then(() => "done" as const), late]);
    if (outcome === "late") logger.warn({ withinMs }, "the last spans were not exported in time; dropped");
  } catch (err) {
    logger.warn({ err: (err as Error).message }, "could not export the last spans");
  } finally {
    clearTimeout(timer);
  }
}
