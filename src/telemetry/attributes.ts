// The attribute names llm-runner's spans carry, in one place. GenAI names follow the OpenTelemetry GenAI semantic
// conventions (semantic-conventions-genai, docs/gen-ai/gen-ai-spans.md "Inference"); HTTP and error names the
// stable HTTP conventions (docs/http/http-spans.md); names of our own start with llm_runner. Kept as plain strings
// so the request path never loads @opentelemetry/semantic-conventions; attributes.test.ts checks them against it.

export const GEN_AI = {
  operation: "gen_ai.operation.name",
  provider: "gen_ai.provider.name",
  requestModel: "gen_ai.request.model",
  maxTokens: "gen_ai.request.max_tokens",
  stream: "gen_ai.request.stream",
  temperature: "gen_ai.request.temperature",
  topP: "gen_ai.request.top_p",
  topK: "gen_ai.request.top_k",
  responseId: "gen_ai.response.id",
  finishReasons: "gen_ai.response.finish_reasons",
  timeToFirstChunk: "gen_ai.response.time_to_first_chunk",
  inputTokens: "gen_ai.usage.input_tokens",
  outputTokens: "gen_ai.usage.output_tokens",
  conversationId: "gen_ai.conversation.id",
} as const;

export const HTTP = {
  method: "http.request.method",
  route: "http.route",
  status: "http.response.status_code",
  urlPath: "url.path",
  serverAddress: "server.address",
  serverPort: "server.port",
  errorType: "error.type",
} as const;

export const RUNNER = {
  requestId: "llm_runner.request_id",
  outcome: "llm_runner.outcome",
  clientStream: "llm_runner.client.stream",
  authMethod: "llm_runner.auth.method",
  queuePosition: "llm_runner.queue.position",
  inFlight: "llm_runner.admission.in_flight",
  capacity: "llm_runner.admission.capacity",
  routePolicy: "llm_runner.route.policy",
  /** Why the router chose the replica: prefix_hit, load, sticky, fallback (llm_runner_route_decisions_total). */
  routeReason: "llm_runner.route.reason",
  /** The prompt's leading 16-token blocks the router expects the chosen replica to hold cached (an estimate). */
  prefixMatchBlocks: "llm_runner.route.prefix_match_blocks",
  /** The blocks in the prompt's chain as the router estimated it (0: not hashed, e.g. ROUTER=least-in-flight). */
  promptBlocks: "llm_runner.route.prompt_blocks",
  replica: "llm_runner.replica",
  generation: "llm_runner.engine.generation",
  timeToFirstToken: "llm_runner.time_to_first_token",
  relayBytes: "llm_runner.relay.bytes",
  relayPauses: "llm_runner.relay.pauses",
  clientAborted: "llm_runner.client.aborted",
  model: "llm_runner.model",
  engine: "llm_runner.engine",
  driver: "llm_runner.driver",
  state: "llm_runner.engine.state",
  failureReason: "llm_runner.failure.reason",
  restarts: "llm_runner.engine.restarts",
  progress: "llm_runner.engine.progress",
  latency: "llm_runner.canary.latency_ms",
} as const;

/** gen_ai.provider.name for our engines: not among the convention's well-known values, which allow others. */
export const PROVIDER_VLLM = "vllm";
