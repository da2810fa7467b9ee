// Where a request's trace (telemetry/request-trace.ts) starts and ends: mounted before auth on /llm and /v1/* only
// when tracing is on, so with it off no request pays for a middleware or a lookup beyond requestTraceOf's miss.
import type { Context, MiddlewareHandler } from "hono";
import { NOOP_REQUEST_TRACE, type RequestTrace, startRequestTrace } from "../../telemetry/request-trace.js";
import type { Tracer } from "../../telemetry/tracer.js";
import { requestHeader } from "./node-bindings.js";

const REQUEST_TRACE = "requestTrace";

/** The request's trace, or the no-op one when the request is not traced. */
export function requestTraceOf(c: Context): RequestTrace {
  return (
    (c.var as Record<string, RequestTrace | undefined> | undefined)?.[REQUEST_TRACE] ?? NOOP_REQUEST_TRACE
  );
}

/** Starts each request's trace (under an incoming `traceparent`) and ends it with the status the handler chose. */
export function traceRequests(tracer: Tracer, routeOf: (path: string) => string): MiddlewareHandler {
  return async (c, next) => {
    const trace = startRequestTrace(tracer, {
      method: c.req.method,
      route: routeOf(c.req.path),
      path: c.req.path,
      header: (name) => requestHeader(c, name),
    });
    c.set(REQUEST_TRACE as never, trace as never);
    try {
      await next();
    } finally {
      trace.responded(c.res.status);
    }
  };
}

/** Runs `guard` inside the trace's auth step, which ends when the guard lets the request through. */
export function tracedGuard(guard: MiddlewareHandler, method: (c: Context) => string): MiddlewareHandler {
  return (c, next) =>
    guard(c, () => {
      requestTraceOf(c).authPassed(method(c));
      return next();
    });
}
