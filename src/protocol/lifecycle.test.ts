import { describe, expect, it } from "vitest";
import { FATAL_REASON_RETRYABLE, FATAL_REASONS, parseLifecycleLine } from "./lifecycle.js";

describe("parseLifecycleLine", () => {
  it("reads each event on a line, after any prefix", () => {
    expect(
      parseLifecycleLine('INFO {"llm_runtime":{"event":"loading","progress":1.5,"detail":"2/4"}}'),
    ).toEqual({
      event: "loading",
      progress: 1,
      detail: "2/4",
    });
    expect(parseLifecycleLine('{"llm_runtime":{"event":"ready"}}')).toEqual({ event: "ready" });
    expect(parseLifecycleLine("plain log line")).toBeNull();
    expect(parseLifecycleLine('{"llm_runtime":{"event":"unknown"}}')).toBeNull();
  });

  it("a known fatal reason is kept; an unknown one becomes engine_error with the name kept in the detail", () => {
    expect(
      parseLifecycleLine('{"llm_runtime":{"event":"fatal","reason":"cuda_oom","detail":"OOM","hint":"h"}}'),
    ).toEqual({ event: "fatal", reason: "cuda_oom", detail: "OOM", hint: "h" });
    expect(parseLifecycleLine('{"llm_runtime":{"event":"fatal","reason":"new_thing","detail":"x"}}')).toEqual(
      {
        event: "fatal",
        reason: "engine_error",
        detail: "(new_thing) x",
      },
    );
  });

  it("every fatal reason is declared retryable or not", () => {
    expect(Object.keys(FATAL_REASON_RETRYABLE).sort()).toEqual([...FATAL_REASONS].sort());
  });
});
