import { describe, expect, it } from "vitest";
import { engineStream } from "../testing/fake-upstream.js";
import { hello, json, setup } from "../testing/gateway-kit.js";

describe("admission", () => {
  it("requires the bearer token on /llm and /v1/*, with WWW-Authenticate, and leaves /health open", async () => {
    const { post, app } = setup({ config: { authToken: "s3cret" } });
    const attempts: Array<Record<string, string>> = [
      {},
      { authorization: "Bearer wrong" },
      { authorization: "Basic s3cret" },
    ];
    for (const headers of attempts) {
      const res = await post("/llm", hello, headers);
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe("Bearer");
      expect((await json(res)).detail.msg).toMatch(/bearer token/);
    }
    const v1 = await app.request("/v1/models");
    expect(v1.status).toBe(401);
    expect((await json(v1)).error.type).toBe("AuthenticationError");
    expect((await post("/llm", hello, { authorization: "Bearer s3cret" })).status).toBe(200);
    expect((await app.request("/health")).status).toBe(200);
  });

  it("answers 500 on /llm, 503 on /v1, with Retry-After and the reason while the engine is not ready", async () => {
    const { post, supervisor, ledger } = setup();
    supervisor.progress = 0.42;
    supervisor.setState("loading");
    const res = await post("/llm", hello);
    expect(res.status).toBe(500);
    expect(res.headers.get("retry-after")).toBe("5");
    expect((await json(res)).detail.msg).toBe("The model is loading (LOADING, 42%); retry shortly.");
    supervisor.setState("failed", {
      reason: "cuda_oom",
      message: "CUDA out of memory",
      hint: "Lower GPU_MEMORY_UTILIZATION.",
      logTail: [],
      at: new Date().toISOString(),
    });
    const failed = await post("/v1/chat/completions", { messages: [{ role: "user", content: "x" }] });
    expect(failed.status).toBe(503);
    expect((await json(failed)).error.message).toContain("cuda_oom: CUDA out of memory");
    expect(ledger.rows().map((r) => r.status)).toEqual(["rejected", "rejected"]);
  });

  it("admits at most MAX_NUM_SEQS + QUEUE_SIZE requests at once, then answers 500 (/llm) or 429 (/v1) with Retry-After", async () => {
    const { post, supervisor } = setup({
      config: { maxNumSeqs: 1, queueSize: 1 },
      reply: () => ({ body: [engineStream(["a"])[0] as string, { hang: true }] }),
    });
    const open = [
      await post("/llm", { ...hello, stream: true }),
      await post("/llm", { ...hello, stream: true }),
    ];
    const res = await post("/llm", hello);
    expect(res.status).toBe(500);
    expect(res.headers.get("retry-after")).toBe("1");
    expect((await json(res)).detail.msg).toContain("at capacity: 2 requests admitted");
    const v1 = await post("/v1/chat/completions", { messages: [{ role: "user", content: "x" }] });
    expect(v1.status).toBe(429);
    for (const r of open) await r.body?.cancel();
    expect(supervisor.inFlight).toBe(0);
    expect((await post("/llm", { ...hello, stream: true })).status).toBe(200);
  });

  it("answers 400 on /llm (413 on /v1) for a body over MAX_BODY_BYTES", async () => {
    const { post } = setup({ config: { maxBodyBytes: 100 } });
    const res = await post("/llm", { messages: [{ role: "user", content: "x".repeat(200) }] });
    expect(res.status).toBe(400);
    const v1 = await post("/v1/chat/completions", { messages: [{ role: "user", content: "x".repeat(200) }] });
    expect(v1.status).toBe(413);
    expect((await json(res)).detail.msg).toContain("MAX_BODY_BYTES (100 bytes)");
  });

  it("calls ticket.end() exactly once per request, whatever the ending", async () => {
    const { post, supervisor } = setup();
    await json(await post("/llm", hello));
    await (await post("/llm", { ...hello, stream: true })).text();
    await (
      await post("/v1/chat/completions", { messages: [{ role: "user", content: "x" }], stream: true })
    ).text();
    expect(supervisor.issued).toBe(3);
    expect(supervisor.ended).toBe(3);
    expect(supervisor.progressCalls).toBeGreaterThan(3);
  });
});
