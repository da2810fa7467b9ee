import type { Context, Hono } from "hono";
import { AnswerAssembler } from "../dialects/answer-assembler.js";
import type { CompletionKind } from "../dialects/engine-chunk.js";
import { OpenAiDialect } from "../dialects/openai-dialect.js";
import type { RouteDeps } from "../gateway-deps.js";
import { serveGeneration } from "../generation/serve-generation.js";
import { readJsonBody } from "../http/read-json-body.js";
import type { ChatRequestFacts } from "../requests/chat-request.js";
import { chatBlocks, completionBlocks } from "../routing/prompt-blocks.js";
import { modelDeps } from "./model-deps.js";

/** One OpenAI generation route and how its body is read. */
export interface GenerationRoute {
  path: "/v1/chat/completions" | "/v1/completions";
  kind: CompletionKind;
  parse(body: unknown): ChatRequestFacts;
}

/**
 * Fields whose answer vLLM computes only without `stream` (prompt logprobs: lm-eval-harness's loglikelihood
 * requests send `echo` with `logprobs`, or `prompt_logprobs`). They generate a token or a few, so the hang
 * watchdog's blind spot during a non-streamed answer does not matter for them.
 */
function needsEngineJson(body: Record<string, unknown>): boolean {
  return body.echo === true || (body.prompt_logprobs !== undefined && body.prompt_logprobs !== null);
}

/**
 * The engine body: a stream with the usage chunk, also for a non-streaming client, whose answer the gateway
 * assembles from it, so the max_tokens cap, TTFT, disconnects and the hang watchdog's view of progress work the
 * same for both. The exception is a request for prompt logprobs, answered by the engine's own JSON.
 */
function engineBody(request: ChatRequestFacts): string {
  if (!request.stream && needsEngineJson(request.body)) return JSON.stringify(request.body);
  const { stream_options: clientOptions, ...rest } = request.body;
  const options =
    request.stream && typeof clientOptions === "object" && clientOptions !== null ? clientOptions : {};
  return JSON.stringify({ ...rest, stream: true, stream_options: { ...options, include_usage: true } });
}

/**
 * Registers POST `path`: parsed, priced (max_tokens; without it MAX_MODEL_LEN for chat, the engine's most) and
 * served by the generation flow.
 */
export function registerOpenAiGeneration(app: Hono, runner: RouteDeps, spec: GenerationRoute): void {
  app.post(spec.path, async (c: Context) => {
    const request = spec.parse(await readJsonBody(c, runner.config.maxBodyBytes));
    const deps = modelDeps(runner, request.body.model, c);
    const maxTokens = request.maxTokens ?? deps.config.maxModelLen;
    return serveGeneration(c, deps, {
      route: spec.path,
      enginePath: spec.path,
      stream: request.stream,
      maxTokens,
      wire: "openai",
      engineBody: () => engineBody(request),
      engineJson: needsEngineJson(request.body),
      operation: spec.kind === "chat" ? "chat" : "text_completion",
      promptBlocks: () => (spec.kind === "chat" ? chatBlocks(request.body) : completionBlocks(request.body)),
      dialect: (ex) =>
        new OpenAiDialect(
          maxTokens,
          request.includeUsage,
          spec.kind,
          request.stream
            ? null
            : {
                assembler: new AnswerAssembler(spec.kind, deps.config.modelId, deps.clock),
                fallbackId: `${spec.kind === "chat" ? "chatcmpl" : "cmpl"}-${ex.id}`,
              },
        ),
    });
  });
}
