// One soak request, as a client sees it: JSON or streamed, /llm or /v1, sometimes dropped after the first chunk.
// Records what was delivered (for the ledger audit) and classifies everything else.
import { request } from "undici";

export class SoakClient {
  constructor({ url, token, agent, disconnectEvery, timeoutMs }) {
    Object.assign(this, { url, token, agent, disconnectEvery, timeoutMs });
    this.delivered = new Map(); // x-request-id → { completionTokens }
    this.dropped = new Set(); // x-request-id of the streams this client dropped
    this.byKind = {};
    this.disconnects = 0;
  }

  get served() {
    return this.delivered.size;
  }

  count(kind) {
    this.byKind[kind] = (this.byKind[kind] ?? 0) + 1;
  }

  async one(i) {
    const route = i % 2 ? "/llm" : "/v1/chat/completions";
    const stream = i % 3 !== 0;
    const drop = stream && i % this.disconnectEvery === 0;
    const n = 5 + (i % 40);
    const prompt = Array.from({ length: n }, (_, k) => `w${(i + k) % 50}`).join(" ");
    const body = { messages: [{ role: "user", content: prompt }], max_tokens: n + 5, stream };
    if (stream && route !== "/llm") body.stream_options = { include_usage: true };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error("timeout")), this.timeoutMs);
    let id = null;
    try {
      const res = await request(`${this.url}${route}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${this.token}` },
        body: JSON.stringify(body),
        dispatcher: this.agent,
        signal: controller.signal,
      });
      id = res.headers["x-request-id"] ?? null;
      if (res.statusCode !== 200) {
        await res.body.dump();
        const retryAfter = res.headers["retry-after"];
        if ((res.statusCode === 503 || res.statusCode === 500) && retryAfter !== undefined) {
          // Not ready (restarting): a well-behaved client waits as Retry-After says (capped to keep load on).
          this.count("not ready (restarting): retried");
          await new Promise((r) => setTimeout(r, Math.min(1, Number(retryAfter) || 1) * 1000));
        } else this.count(`http ${res.statusCode}`);
        return;
      }
      let text = "";
      for await (const chunk of res.body) {
        text += chunk;
        if (drop && text.includes("data: ")) {
          this.disconnects++;
          if (id) this.dropped.add(id);
          controller.abort(new Error("client disconnect"));
          await res.body.dump().catch(() => {});
          return;
        }
      }
      this.settle(id, stream, text);
    } catch (err) {
      if (controller.signal.aborted && controller.signal.reason?.message === "client disconnect") return;
      if (controller.signal.aborted) this.count("client timeout (hung)");
      else this.count(`connection: ${err?.code ?? err?.name}`);
    } finally {
      clearTimeout(timer);
    }
  }

  settle(id, stream, text) {
    if (!stream) {
      const tokens = JSON.parse(text).usage?.completion_tokens ?? null;
      return this.deliver(id, tokens);
    }
    if (!text.endsWith("data: [DONE]\n\n")) return this.count("stream without [DONE]");
    if (text.includes('"finish_reason":"error"') || text.includes('data: {"error"'))
      return this.count("stream ended with an error event (engine died or hung)");
    const usage = [...text.matchAll(/"completion_tokens":(\d+)/g)].at(-1);
    this.deliver(id, usage ? Number(usage[1]) : null);
  }

  deliver(id, completionTokens) {
    if (!id) return this.count("200 without x-request-id");
    this.delivered.set(id, { completionTokens });
  }
}
