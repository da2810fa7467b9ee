import { EngineProtocolError } from "../wire/engine-errors.js";
import type { AnswerAssembler } from "./answer-assembler.js";
import { scanAnswerText } from "./answer-text-scan.js";
import type { OpenAiRelay } from "./openai-relay.js";
import type { RelayProtocol, RelayStep } from "./relay-stream.js";

/**
 * The relay of a non-streaming /v1 request that the gateway streams from the engine: the OpenAI relay does the
 * pricing, the max_tokens cap and error detection as for a streaming client, and every chunk it lets through
 * goes into the assembler. Nothing is sent until the answer is whole.
 */
export class AssemblingRelay implements RelayProtocol {
  constructor(
    readonly relay: OpenAiRelay,
    readonly assembler: AnswerAssembler,
  ) {}

  onData(data: string): RelayStep {
    const step = this.relay.onData(data);
    if (step.end === "cut") {
      this.assembler.cutAtLength();
      return step;
    }
    // The usual text chunk is read by a scan; the first chunk (the answer's head) and anything else in full.
    if (this.assembler.hasHead()) {
      const text = scanAnswerText(data, this.assembler.kind);
      if (text !== null) {
        this.assembler.addText(text);
        return step;
      }
    }
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      throw new EngineProtocolError(`the engine sent an SSE event that is not JSON: ${data.slice(0, 200)}`);
    }
    if (typeof chunk === "object" && chunk !== null && !("error" in chunk)) {
      this.assembler.add(chunk as Record<string, unknown>);
    }
    return step;
  }

  finishFrames(): string {
    return "";
  }

  errorFrames(message: string): string {
    return this.relay.errorFrames(message);
  }

  reportedError(): string | null {
    return this.relay.reportedError();
  }

  usage() {
    return this.relay.usage();
  }
}
