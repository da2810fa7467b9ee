import type { UpstreamClient, UpstreamRequest, UpstreamResponse } from "../exchange/upstream-client.js";

/** A step of a scripted engine body: bytes to send, a pause, or a connection drop. */
export type FakeStep = string | { waitMs: number } | { fail: string } | { hang: true };

export interface FakeReply {
  status?: number;
  contentType?: string;
  body: FakeStep[];
}

/**
 * A scripted engine for in-process gateway tests: answers each request from `reply`, streams the body step
 * by step, and stops at once when the request's signal aborts (as a socket teardown would).
 */
export class FakeUpstream implements UpstreamClient {
  readonly requests: UpstreamRequest[] = [];
  /** Requests whose body stopped because their signal aborted. */
  aborted = 0;
  closed = false;

  constructor(private readonly reply: (request: UpstreamRequest) => FakeReply | Error) {}

  async send(request: UpstreamRequest): Promise<UpstreamResponse> {
    this.requests.push(request);
    if (request.signal.aborted) throw request.signal.reason;
    const answer = this.reply(request);
    if (answer instanceof Error) throw answer;
    const reply: FakeReply = answer;
    const encoder = new TextEncoder();
    const signal = request.signal;
    // Counted the moment the request is torn down, as an engine would see the socket close.
    const onAbort = () => {
      this.aborted += 1;
    };
    signal.addEventListener("abort", onAbort, { once: true });
    async function* body(): AsyncGenerator<Uint8Array> {
      for (const step of reply.body) {
        if (typeof step === "string") {
          if (signal.aborted) break;
          yield encoder.encode(step);
        } else if ("waitMs" in step || "hang" in step) {
          await abortableWait("hang" in step ? 2_147_483_647 : step.waitMs, signal);
        } else {
          throw new Error(step.fail);
        }
      }
      if (signal.aborted) throw signal.reason;
      signal.removeEventListener("abort", onAbort);
    }
    const iterable = body();
    return {
      status: reply.status ?? 200,
      contentType: reply.contentType ?? "text/event-stream",
      body: iterable,
      text: async () => {
        let text = "";
        const decoder = new TextDecoder();
        for await (const chunk of iterable) text += decoder.decode(chunk, { stream: true });
        return text;
      },
      discard: () => {
        iterable.return(undefined).catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function abortableWait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** vLLM-style SSE frames for a chat stream of `tokens`, ending with the usage chunk and [DONE]. */
export function engineStream(
  tokens: string[],
  options: {
    finishReason?: string;
    promptTokens?: number;
    id?: string;
    model?: string;
    usage?: boolean;
  } = {},
): string[] {
  const id = options.id ?? "chatcmpl-engine";
  const model = options.model ?? "test-model";
  const head = { id, object: "chat.completion.chunk", created: 1_700_000_000, model };
  const frames = [
    `data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }] })}\n\n`,
  ];
  tokens.forEach((t, i) => {
    const last = i === tokens.length - 1;
    const choice = {
      index: 0,
      delta: { content: t },
      logprobs: null,
      finish_reason: last ? (options.finishReason ?? "stop") : null,
    };
    frames.push(`data: ${JSON.stringify({ ...head, choices: [choice] })}\n\n`);
  });
  if (options.usage !== false) {
    const prompt = options.promptTokens ?? 7;
    const usage = {
      prompt_tokens: prompt,
      completion_tokens: tokens.length,
      total_tokens: prompt + tokens.length,
    };
    frames.push(`data: ${JSON.stringify({ ...head, choices: [], usage })}\n\n`);
  }
  frames.push("data: [DONE]\n\n");
  return frames;
}
