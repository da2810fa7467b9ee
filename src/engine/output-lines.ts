import { parseLifecycleLine } from "../protocol/lifecycle.js";
import type { EngineStartSpec } from "./engine-driver.js";

/**
 * Splits a byte stream into lines and routes each one: lifecycle lines to spec.onEvent, everything else to
 * spec.onLog. tqdm progress bars rewrite a line with "\r", so carriage returns also end a line.
 */
export function createLineRouter(
  spec: Pick<EngineStartSpec, "onLog" | "onEvent">,
  stream: "stdout" | "stderr",
): { write(chunk: Buffer | string): void; end(): void } {
  let pending = "";
  const emit = (line: string) => {
    if (line.trim() === "") return;
    const event = stream === "stdout" ? parseLifecycleLine(line) : null;
    if (event) spec.onEvent(event);
    else spec.onLog(line, stream);
  };
  return {
    write(chunk) {
      pending += typeof chunk === "string" ? chunk : chunk.toString("utf8");
      const parts = pending.split(/\r\n|\n|\r/);
      pending = parts.pop() ?? "";
      for (const part of parts) emit(part);
      // Guard against a producer that never ends a line.
      if (pending.length > 64 * 1024) {
        emit(pending);
        pending = "";
      }
    },
    end() {
      if (pending) emit(pending);
      pending = "";
    },
  };
}
