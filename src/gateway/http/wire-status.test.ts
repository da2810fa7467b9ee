import { describe, expect, it } from "vitest";
import { errors } from "./gateway-error.js";
import { isLlmPath, llmWireStatus, wireError, wireStatus } from "./wire-status.js";

describe("llmWireStatus (what go-livepeer can read on /llm)", () => {
  it("keeps 2xx, 400, 401 and 499; folds the client's faults into 400 and the runner's into 500", () => {
    const seen = [200, 400, 401, 404, 413, 422, 408, 429, 499, 500, 502, 503, 504].map(llmWireStatus);
    expect(seen).toEqual([200, 400, 401, 400, 400, 400, 500, 500, 499, 500, 500, 500, 500]);
  });

  it("keeps the message and Retry-After of a mapped error", () => {
    const mapped = wireError("/llm", errors.notReady("The model is loading (LOADING); retry shortly.", 5));
    expect(mapped.status).toBe(500);
    expect(mapped.message).toBe("The model is loading (LOADING); retry shortly.");
    expect(mapped.retryAfter).toBe(5);
    const same = errors.unauthorized("Missing bearer token");
    expect(wireError("/llm", same)).toBe(same);
  });

  it("applies to /llm and /llm/ only", () => {
    expect([isLlmPath("/llm"), isLlmPath("/llm/"), isLlmPath("/v1/chat/completions")]).toEqual([
      true,
      true,
      false,
    ]);
    expect([
      wireStatus("/llm", 503),
      wireStatus("/llm/", 429),
      wireStatus("/v1/chat/completions", 503),
    ]).toEqual([500, 500, 503]);
  });
});
