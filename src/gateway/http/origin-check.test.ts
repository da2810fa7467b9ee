import { describe, expect, it } from "vitest";
import { json, setup } from "../testing/gateway-kit.js";

// Without AUTH_TOKEN a request that carries an Origin is served only when CORS_ORIGINS lists it (origin-check.ts).

const hello = { messages: [{ role: "user", content: "x" }] };

describe("the Origin check without AUTH_TOKEN", () => {
  it("serves a listed origin, preflight included, with CORS headers", async () => {
    const origin = "https://app.example.com";
    const { app, post } = setup({ config: { authToken: null, corsOrigins: [origin] } });
    const preflight = await app.request("/v1/chat/completions", {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
    expect(preflight.status).toBe(204);
    const res = await post("/v1/chat/completions", hello, { origin });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(origin);
  });

  it("refuses an origin not listed, on every route, in the route's wire shape", async () => {
    const { app, post, upstream } = setup({ config: { authToken: null, corsOrigins: [] } });
    const origin = "https://evil.example";
    const v1 = await post("/v1/chat/completions", hello, { origin });
    expect(v1.status).toBe(403);
    expect((await json(v1)).error.message).toContain("CORS_ORIGINS");
    const llm = await post("/llm", hello, { origin });
    expect(llm.status).toBe(400);
    expect((await json(llm)).detail.msg).toContain("set AUTH_TOKEN");
    expect((await app.request("/hardware/info", { headers: { origin } })).status).toBe(403);
    expect(upstream.requests).toHaveLength(0);
  });

  it("lets clients that send no Origin through, and any origin with CORS_ORIGINS=*", async () => {
    expect((await setup({ config: { authToken: null, corsOrigins: [] } }).post("/llm", hello)).status).toBe(
      200,
    );
    const any = setup({ config: { authToken: null, corsOrigins: "*" } });
    expect((await any.post("/llm", hello, { origin: "https://a.example" })).status).toBe(200);
  });
});
