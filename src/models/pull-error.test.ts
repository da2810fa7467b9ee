import { describe, expect, it } from "vitest";
import { statusError } from "./pull-error.js";

const base = { endpoint: "https://huggingface.co", repo: "meta-llama/Llama-3.1-8B", what: "config.json" };

describe("statusError", () => {
  it("turns the hub's GatedRepo answers into the licence page and HF_TOKEN", () => {
    for (const [status, hasToken] of [
      [401, false],
      [403, true],
    ] as const) {
      const e = statusError({ ...base, status, errorCode: "GatedRepo", hasToken });
      expect(e.kind).toBe("gated");
      expect(e.fix).toContain(
        "accept the licence at https://huggingface.co/meta-llama/Llama-3.1-8B and set HF_TOKEN",
      );
    }
  });

  it("reads a bare 401/403 as gated without a token, and as a bad token with one", () => {
    expect(statusError({ ...base, status: 401, errorCode: null, hasToken: false }).kind).toBe("gated");
    const withToken = statusError({ ...base, status: 403, errorCode: null, hasToken: true });
    expect(withToken.kind).toBe("bad_token");
    expect(withToken.fix).toContain("https://huggingface.co/settings/tokens");
  });

  it("says a missing repo, file or revision is not found, and 5xx/429 are worth a retry", () => {
    expect(statusError({ ...base, status: 401, errorCode: "RepoNotFound", hasToken: false }).kind).toBe(
      "not_found",
    );
    expect(
      statusError({ ...base, status: 404, errorCode: "EntryNotFound", hasToken: false }).message,
    ).toContain("no config.json for meta-llama/Llama-3.1-8B (HTTP 404 EntryNotFound)");
    expect(statusError({ ...base, status: 503, errorCode: null, hasToken: false }).fix).toContain(
      "run the command again later",
    );
    expect(statusError({ ...base, status: 429, errorCode: null, hasToken: false }).fix).toContain(
      "wait a minute",
    );
  });
});
