import { describe, expect, it } from "vitest";
import { json, setup } from "../testing/gateway-kit.js";
import { hostName } from "./host-check.js";

// The DNS-rebinding guard (host-check.ts): on loopback without AUTH_TOKEN, only Hosts no public DNS can
// point at this machine are answered. app.request() takes the Host from the URL.

describe("hostName", () => {
  it.each([
    ["127.0.0.1:8000", "127.0.0.1"],
    ["[::1]:8000", "::1"],
    ["[::1]", "::1"],
    ["Localhost.:8000", "localhost"],
    ["runner.lan", "runner.lan"],
    [":8000", ""],
    ["", ""],
    ["[]:80", ""],
  ])("%j → %j", (raw, name) => {
    expect(hostName(raw)).toBe(name);
  });
});

describe("the Host check", () => {
  const open = () => setup({ config: { host: "127.0.0.1", authToken: null, allowedHosts: ["runner.lan"] } });

  it("answers IP literals, localhost, *.localhost and ALLOWED_HOSTS names", async () => {
    const { app } = open();
    for (const host of [
      "127.0.0.1:9",
      "10.1.2.3",
      "[::1]:9",
      "localhost:9",
      "app.localhost",
      "runner.lan:9",
    ]) {
      expect((await app.request(`http://${host}/health`)).status, host).toBe(200);
    }
  });

  it("refuses any other name with 403 and the way to allow it; /llm says so with 400", async () => {
    const { app } = open();
    const res = await app.request("http://evil.example:8000/health");
    expect(res.status).toBe(403);
    expect((await json(res)).detail.msg).toMatch(/ALLOWED_HOSTS.*set AUTH_TOKEN/);
    const llm = await app.request("http://evil.example/llm", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "x" }] }),
    });
    expect(llm.status).toBe(400);
    const v1 = await app.request("http://evil.example/v1/models");
    expect(v1.status).toBe(403);
    expect((await json(v1)).error.type).toBe("PermissionDeniedError");
  });

  it("is not made when AUTH_TOKEN is set, or when the gateway listens beyond loopback", async () => {
    const withToken = setup({ config: { host: "127.0.0.1", authToken: "secret" } });
    expect((await withToken.app.request("http://evil.example/health")).status).toBe(200);
    const onAll = setup({ config: { host: "0.0.0.0", authToken: null } });
    expect((await onAll.app.request("http://evil.example/health")).status).toBe(200);
  });
});
