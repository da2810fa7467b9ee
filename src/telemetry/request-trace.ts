// One request's trace in the gateway: a SERVER span for the request, and under it the steps a slow request can
// spend its time in: auth, validate (the body read and parsed), admission (waiting for a slot), route (the
// replica chosen), the engine call (a CLIENT span whose context goes to the engine as `traceparent`, so vLLM's
// own spans join the trace) and relay (the stream to the client). With tracing off every call lands on
// NOOP_REQUEST_TRACE.
import { GEN_AI, HTTP, PROVIDER_VLLM, RUNNER } from "./attributes.js";
import type { Span, Tracer } from "./tracer.js";
import { epochMs, NOOP_SPAN } from "./tracer.js";

// The argument types are the shapes the gateway already holds (its Generation, the admission port, the ticket, the
// exchange's finish input), so a request that is not traced allocates nothing for its trace.

/** What the route knows once the body is parsed (serve-generation.ts Generation). */
export interface GenerationFacts {
  operation?: "chat" | "text_completion";
  maxTokens: number;
  /** The client asked for a stream. */
  stream: boolean;
  /** The engine answers JSON itself (no stream from the engine). */
  engineJson?: boolean;
}

/** The admission figures at arrival (AdmissionPort). */
export interface QueueFacts {
  readonly queueDepth: number;
  readonly inFlight: number;
  readonly capacity: number;
}

/** How the request's replica was chosen (a RequestTicket). */
export interface RouteFacts {
  readonly endpoint: { readonly replica?: number; readonly generation: number };
  /** The router's decision (supervisor/routing/route-decision.ts RouteDecision); absent for one engine. */
  readonly route?: {
    readonly policy: string;
    readonly reason: string;
    readonly matchedBlocks: number;
    readonly totalBlocks: number;
  };
}

/** How the exchange ended (its FinishInput). */
export interface EndFacts {
  status: string;
  promptTokens?: number;
  completionTokens?: number;
  finishReason?: string | null;
  error?: string | null;
}

/** The stream to the client: bytes out, pauses for a slow reader, a client that left. */
export interface RelayTrace {
  wrote(frames: string | Uint8Array): void;
  paused(): void;
  clientLeft(reason: string): void;
  end(): void;
}

export interface RequestTrace {
  authPassed(method: string): void;
  validated(facts: GenerationFacts, model: string): void;
  opened(requestId: string, sessionId: string | null): void;
  queued(admission: QueueFacts): void;
  admitted(route: RouteFacts): void;
  refused(status: number, message: string): void;
  /** Starts the engine call; returns the headers that carry its context to the engine. */
  engineCall(baseUrl: string, path: string): Record<string, string>;
  engineAnswered(status: number): void;
  /** The engine failed before answering and the request is admitted again (another replica): the call fails. */
  retried(message: string): void;
  firstChunk(): void;
  firstToken(): void;
  /** The exchange finished (its ledger row): the engine call is over. */
  finished(facts: EndFacts): void;
  /** The relay to the client begins; null when not traced. */
  relay(stream: boolean): RelayTrace | null;
  /** The route's handler returned (or threw) with this status. */
  responded(status: number): void;
}

const nothing = () => {};
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

export const NOOP_REQUEST_TRACE: RequestTrace = {
  authPassed: nothing,
  validated: nothing,
  opened: nothing,
  queued: nothing,
  admitted: nothing,
  refused: nothing,
  engineCall: () => NO_HEADERS,
  engineAnswered: nothing,
  retried: nothing,
  firstChunk: nothing,
  firstToken: nothing,
  finished: nothing,
  relay: () => null,
  responded: nothing,
};

export interface RequestLine {
  method: string;
  route: string;
  path: string;
  header(name: string): string | undefined;
}

/** Starts a request's trace under its incoming `traceparent` when there is one. */
export function startRequestTrace(tracer: Tracer, request: RequestLine): RequestTrace {
  if (!tracer.enabled) return NOOP_REQUEST_TRACE;
  const root = tracer.startSpan(`${request.method} ${request.route}`, {
    kind: "server",
    parent: tracer.extract(request.header),
    attributes: { [HTTP.method]: request.method, [HTTP.route]: request.route, [HTTP.urlPath]: request.path },
  });
  // Not sampled: no step would be recorded; the engine is only told so (the sampled flag of its traceparent).
  if (!root.recording) return unsampled(tracer, root);
  return new SpanRequestTrace(tracer, root, request.method === "POST");
}

function unsampled(tracer: Tracer, root: Span): RequestTrace {
  return { ...NOOP_REQUEST_TRACE, engineCall: () => tracer.inject(root) };
}

class SpanRequestTrace implements RequestTrace {
  private step: Span = NOOP_SPAN;
  private stepName: "auth" | "validate" | "admission" | null = null;
  private engine: Span = NOOP_SPAN;
  private engineStartedAt = 0;
  private engineStatus = 0;
  private facts: GenerationFacts | null = null;
  private model = "";
  private handlerDone = false;
  private relays = 0;
  private ended = false;
  private sawChunk = false;
  private sawToken = false;

  constructor(
    private readonly tracer: Tracer,
    private readonly root: Span,
    /** A POST: its body is read and validated after auth. */
    private readonly hasBody: boolean,
  ) {
    this.begin("auth");
  }

  private begin(name: "auth" | "validate" | "admission", attributes?: Record<string, number>): void {
    this.step.end();
    this.stepName = name;
    this.step = this.tracer.startSpan(name, { parent: this.root, ...(attributes ? { attributes } : {}) });
  }

  private close(): void {
    this.step.end();
    this.step = NOOP_SPAN;
    this.stepName = null;
  }

  authPassed(method: string): void {
    if (this.stepName !== "auth") return;
    this.step.set({ [RUNNER.authMethod]: method });
    if (this.hasBody) this.begin("validate");
    else this.close();
  }

  validated(facts: GenerationFacts, model: string): void {
    this.facts = facts;
    this.model = model;
    const attributes = {
      [GEN_AI.requestModel]: model,
      [GEN_AI.maxTokens]: facts.maxTokens,
      [RUNNER.clientStream]: facts.stream,
    };
    this.root.set(attributes);
    if (this.stepName === "validate") {
      this.step.set(attributes);
      this.close();
    }
  }

  opened(requestId: string, sessionId: string | null): void {
    this.root.set({ [RUNNER.requestId]: requestId, [GEN_AI.conversationId]: sessionId ?? undefined });
  }

  queued(admission: QueueFacts): void {
    // Requests ahead of this one in the queue, as it arrives.
    this.begin("admission", {
      [RUNNER.queuePosition]: admission.queueDepth,
      [RUNNER.inFlight]: admission.inFlight,
      [RUNNER.capacity]: admission.capacity,
    });
  }

  admitted(ticket: RouteFacts): void {
    this.close();
    const span = this.tracer.startSpan("route", {
      parent: this.root,
      attributes: {
        [RUNNER.routePolicy]: ticket.route?.policy ?? "single",
        [RUNNER.routeReason]: ticket.route?.reason,
        [RUNNER.replica]: ticket.endpoint.replica ?? 0,
        [RUNNER.generation]: ticket.endpoint.generation,
        [RUNNER.prefixMatchBlocks]: ticket.route?.matchedBlocks,
        [RUNNER.promptBlocks]: ticket.route?.totalBlocks,
      },
    });
    span.end();
  }

  refused(status: number, message: string): void {
    if (this.stepName === "admission") this.step.fail(String(status), message);
    this.close();
  }

  engineCall(baseUrl: string, path: string): Record<string, string> {
    const facts = this.facts;
    const operation = facts?.operation ?? "chat";
    const { hostname, port } = addressOf(baseUrl);
    this.engine.end();
    this.engineStartedAt = performance.now();
    // The GenAI inference span's name: "{gen_ai.operation.name} {gen_ai.request.model}".
    this.engine = this.tracer.startSpan(`${operation} ${this.model}`.trimEnd(), {
      kind: "client",
      parent: this.root,
      attributes: {
        [GEN_AI.operation]: operation,
        [GEN_AI.provider]: PROVIDER_VLLM,
        [GEN_AI.requestModel]: this.model || undefined,
        [GEN_AI.maxTokens]: facts?.maxTokens,
        [GEN_AI.stream]: facts === null ? undefined : facts.engineJson !== true,
        [HTTP.serverAddress]: hostname,
        [HTTP.serverPort]: Number(port),
        [HTTP.urlPath]: path,
      },
    });
    return this.tracer.inject(this.engine);
  }

  engineAnswered(status: number): void {
    this.engineStatus = status;
    this.engine.set({ [HTTP.status]: status });
    // HTTP client spans are failed by 4xx and 5xx (the HTTP semantic conventions, "Status").
    if (status >= 400) this.engine.fail(String(status));
  }

  retried(message: string): void {
    this.engine.fail("engine_error", message);
    this.engine.end();
    this.engine = NOOP_SPAN;
    this.root.event("retried", { message });
  }

  firstChunk(): void {
    if (this.sawChunk) return;
    this.sawChunk = true;
    this.engine.set({ [GEN_AI.timeToFirstChunk]: (performance.now() - this.engineStartedAt) / 1000 });
  }

  firstToken(): void {
    if (this.sawToken) return;
    this.sawToken = true;
    this.engine.set({ [RUNNER.timeToFirstToken]: (performance.now() - this.engineStartedAt) / 1000 });
    this.engine.event("first_token");
  }

  finished(facts: EndFacts): void {
    this.close();
    this.root.set({ [RUNNER.outcome]: facts.status });
    this.engine.set({
      [GEN_AI.inputTokens]: facts.promptTokens ?? 0,
      [GEN_AI.outputTokens]: facts.completionTokens ?? 0,
      [GEN_AI.finishReasons]: facts.finishReason ? [facts.finishReason] : undefined,
      [RUNNER.outcome]: facts.status,
    });
    if (facts.status === "engine_error" && this.engineStatus < 400)
      this.engine.fail("engine_error", facts.error ?? undefined);
    this.engine.end();
    this.engine = NOOP_SPAN;
  }

  relay(stream: boolean): RelayTrace {
    this.relays++;
    const span = this.tracer.startSpan("relay", {
      parent: this.root,
      attributes: { [RUNNER.clientStream]: stream },
    });
    let bytes = 0;
    let pauses = 0;
    let over = false;
    return {
      wrote: (frames) => {
        bytes += typeof frames === "string" ? Buffer.byteLength(frames) : frames.byteLength;
      },
      paused: () => {
        pauses++;
      },
      clientLeft: (reason) => {
        span.set({ [RUNNER.clientAborted]: true });
        span.event("client_left", { reason });
      },
      end: () => {
        if (over) return;
        over = true;
        span.set({ [RUNNER.relayBytes]: bytes, [RUNNER.relayPauses]: pauses });
        const at = epochMs();
        span.end(at);
        this.relays--;
        this.endIfDone(at);
      },
    };
  }

  responded(status: number): void {
    if (this.handlerDone) return;
    this.handlerDone = true;
    // A step still open here is where the request was refused (auth, or a body that did not parse).
    if (this.stepName !== null && status >= 400) this.step.fail(String(status));
    this.close();
    this.root.set({ [HTTP.status]: status });
    // HTTP server spans are failed by 5xx only (the HTTP semantic conventions, "Status").
    if (status >= 500) this.root.fail(String(status));
    this.endIfDone();
  }

  /**
   * Ends the request's span once the handler returned and no relay is open. `at`: one instant for the spans that
   * end together (each SDK span reads the wall clock on its own, so two "now"s can be a millisecond apart).
   */
  private endIfDone(at = epochMs()): void {
    if (this.ended || !this.handlerDone || this.relays > 0) return;
    this.ended = true;
    this.engine.end(at);
    this.root.end(at);
  }
}

// An engine's address, parsed once: a runner has a few engines, each asked many times.
const addresses = new Map<string, { hostname: string; port: string }>();
function addressOf(baseUrl: string): { hostname: string; port: string } {
  let found = addresses.get(baseUrl);
  if (found === undefined) {
    const { hostname, port } = new URL(baseUrl);
    found = { hostname, port };
    if (addresses.size > 64) addresses.clear();
    addresses.set(baseUrl, found);
  }
  return found;
}
