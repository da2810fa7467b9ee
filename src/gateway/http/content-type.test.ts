import { describe, expect, it } from "vitest";
import { json, setup } from "../testing/gateway-kit.js";

// Without AUTH_TOKEN a POST must be Content-Type: application/json (content-type.ts); with it, anything goes.

const body = JSON.stringify({ messages: [{ role: "user", content: "x" }] });

function postAs(app: ReturnType<typeof setup>["app"], path: string, type: string | null) {
  return app.request(path, {
    method: "POST",
    headers: type === null ? {} : { "content-type": type },
    body: new Blob([body]), // a typeless Blob: no Content-Type unless one is set
  });
}

describe("Content-Type on POST without AUTH_TOKEN", () => {
  it("refuses text/plain, forms and no type: 415 on /v1, 400 on /llm, naming the header", async () => {
    const { app, upstream } = setup({ config: { authToken: null } });
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/jsonp", null]) {
      const v1 = await postAs(app, "/v1/chat/completions", type);
      expect(v1.status, String(type)).toBe(415);
      expect((await json(v1)).error.message).toContain("'Content-Type: application/json'");
      const llm = await postAs(app, "/llm", type);
      expect(llm.status).toBe(400);
      expect((await json(llm)).detail.msg).toContain("'Content-Type: application/json'");
    }
    expect(upstream.requests).toHaveLength(0);
  });

  it("takes application/json with parameters in any case", async () => {
    const { app } = setup({ config: { authToken: null } });
    expect((await postAs(app, "/llm", "Application/JSON ; charset=UTF-8")).status).toBe(200);
  });

  it("takes any content type when AUTH_TOKEN is set", async () => {
    const { app } = setup({ config: { authToken: "secret" } });
    const res = await app.request("/llm", {
      method: "POST",
      headers: { "content-type": "text/plain", authorization: "Bearer secret" },
      body,
    });
    expect(res.status).toBe(200);
  });
});
