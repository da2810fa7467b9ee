import { describe, expect, it } from "vitest";
import { json, setup } from "../testing/gateway-kit.js";

// CORS on /v1/* and GET /v1/models, in process against a scripted engine.

describe("CORS on /v1/*", () => {
  const origin = "https://app.example.com";
  const preflight = (app: ReturnType<typeof setup>["app"], path: string, from = origin) =>
    app.request(path, {
      method: "OPTIONS",
      headers: {
        origin: from,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-stainless-os",
      },
    });

  it("answers a preflight before auth, without reaching the engine", async () => {
    const { app, upstream } = setup({ config: { authToken: "secret" } });
    const res = await preflight(app, "/v1/chat/completions");
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    expect(res.headers.get("access-control-allow-headers")).toBe(
      "authorization, content-type, x-stainless-os",
    );
    expect(upstream.requests).toHaveLength(0);
  });

  it("lets the page read answers, errors included, and our headers", async () => {
    const { post } = setup({ config: { authToken: "secret" } });
    const ok = await post(
      "/v1/chat/completions",
      { messages: [{ role: "user", content: "x" }] },
      {
        origin,
        authorization: "Bearer secret",
      },
    );
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe("*");
    const exposed = ok.headers.get("access-control-expose-headers") ?? "";
    for (const h of ["x-request-id", "x-llm-price-quote", "x-llm-price-usage", "x-llm-currency"]) {
      expect(exposed).toContain(h);
    }
    const denied = await post("/v1/chat/completions", {}, { origin });
    expect(denied.status).toBe(401);
    expect(denied.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("with a list, echoes only listed origins and refuses others' preflights with the fix", async () => {
    const { app, post } = setup({ config: { corsOrigins: [origin] } });
    const res = await preflight(app, "/v1/responses");
    expect(res.headers.get("access-control-allow-origin")).toBe(origin);
    expect(res.headers.get("vary")).toBe("Origin");
    const other = await preflight(app, "/v1/responses", "https://evil.example");
    expect(other.status).toBe(403);
    expect((await json(other)).error.message).toContain("CORS_ORIGINS");
    const call = await post(
      "/v1/chat/completions",
      { messages: [{ role: "user", content: "x" }] },
      {
        origin: "https://evil.example",
      },
    );
    expect(call.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("is off with an empty CORS_ORIGINS, and never on /llm", async () => {
    const off = setup({ config: { corsOrigins: [], authToken: "secret" } });
    expect((await preflight(off.app, "/v1/chat/completions")).status).toBe(401);
    const on = setup({ config: { authToken: "secret" } });
    const llm = await preflight(on.app, "/llm");
    expect(llm.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("GET /v1/models", () => {
  it("takes no request ticket, so /health stays IDLE while clients list models", async () => {
    const { app, supervisor } = setup({
      reply: () => ({ contentType: "application/json", body: ['{"object":"list","data":[]}'] }),
    });
    const res = await app.request("/v1/models");
    expect(res.status).toBe(200);
    expect(supervisor.issued).toBe(0);
    expect(await (await app.request("/health")).json()).toEqual({ status: "IDLE" });
  });

  it("answers 503 while the engine is not ready", async () => {
    const { app, supervisor } = setup();
    supervisor.setState("loading");
    const res = await app.request("/v1/models");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).not.toBeNull();
  });
});
