// The OpenTelemetry variables, read as the OpenTelemetry specification says: "OTLP Exporter Configuration"
// (endpoint URLs for OTLP/HTTP; OTEL_EXPORTER_OTLP_HEADERS) and "SDK Environment Variables" (empty = unset;
// OTEL_TRACES_SAMPLER and its argument).
import { describe, expect, it } from "vitest";
import { bad, ok } from "./testing/load-config-kit.js";

describe("OpenTelemetry variables", () => {
  it("leaves tracing off without an endpoint, whatever else is set", async () => {
    const r = await ok({ OTEL_SERVICE_NAME: "x", OTEL_EXPORTER_OTLP_HEADERS: "a=b" });
    expect(r.config.tracing).toBeNull();
    expect(r.warnings).toContain(
      "OTEL_EXPORTER_OTLP_HEADERS is set but tracing is off: set OTEL_EXPORTER_OTLP_ENDPOINT to export traces.",
    );
  });

  it.each([
    ["http://collector:4318", "http://collector:4318/v1/traces"],
    ["http://collector:4318/", "http://collector:4318/v1/traces"],
    // The spec's own example: the base URL's path is kept, v1/traces appended to it.
    ["http://collector:4318/mycollector/", "http://collector:4318/mycollector/v1/traces"],
  ])("sends spans to OTEL_EXPORTER_OTLP_ENDPOINT=%s + v1/traces", async (base, url) => {
    expect((await ok({ OTEL_EXPORTER_OTLP_ENDPOINT: base })).config.tracing?.tracesUrl).toBe(url);
  });

  it("uses OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, over the base endpoint", async () => {
    const { config } = await ok({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://tempo:4318/otlp",
    });
    expect(config.tracing?.tracesUrl).toBe("http://tempo:4318/otlp");
  });

  it("takes the service name, sampler, ratio and headers with an endpoint", async () => {
    const { config } = await ok({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_SERVICE_NAME: "gpu-node-7",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.01",
      OTEL_EXPORTER_OTLP_HEADERS: "x-honeycomb-team=abc%20def, x-scope=llm",
    });
    expect(config.tracing).toEqual({
      tracesUrl: "http://collector:4318/v1/traces",
      headers: "x-honeycomb-team=abc%20def, x-scope=llm",
      serviceName: "gpu-node-7",
      sampler: "parentbased_traceidratio",
      ratio: 0.01,
    });
  });

  it("reads every empty OTEL_* value as unset", async () => {
    const { config } = await ok({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "",
      OTEL_EXPORTER_OTLP_HEADERS: "",
      OTEL_SERVICE_NAME: "",
      OTEL_TRACES_SAMPLER: "",
      OTEL_TRACES_SAMPLER_ARG: "",
    });
    expect(config.tracing).toEqual({
      tracesUrl: "http://collector:4318/v1/traces",
      headers: null,
      serviceName: "llm-runner",
      sampler: "parentbased_always_on",
      ratio: 1,
    });
  });

  it("notes a ratio that its sampler does not read", async () => {
    const r = await ok({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_SAMPLER_ARG: "0.5" });
    expect(r.warnings).toContain(
      "OTEL_TRACES_SAMPLER_ARG is only read by the traceidratio samplers; ignored with OTEL_TRACES_SAMPLER=parentbased_always_on.",
    );
  });

  it("masks the headers (they carry backends' API keys) when it reports them", async () => {
    const [issue] = await bad({ OTEL_EXPORTER_OTLP_HEADERS: "x-honeycomb-team secret-key-123" });
    expect(issue?.variable).toBe("OTEL_EXPORTER_OTLP_HEADERS");
    expect(issue?.value).not.toContain("secret-key-123");
  });
});
