import { request } from "undici";
import type { EngineEndpoint } from "./types.js";

export type CanaryAnswer = { kind: "token" } | { kind: "error"; detail: string };

/** How the canary asks the engine for one token (see canary-watch.ts). Never rejects; aborts with the signal. */
export interface CanaryClient {
  generate(endpoint: EngineEndpoint, model: string, signal: AbortSignal): Promise<CanaryAnswer>;
}

let counter = 0;

/**
 * POST /v1/completions with max_tokens 1 (a plain prompt needs no chat template, so it works on base models too).
 * The request id names it a canary in the engine's own log.
 */
export const httpCanaryClient: CanaryClient = {
  async generate(endpoint, model, signal) {
    try {
      const res = await request(`${endpoint.baseUrl}/v1/completions`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${endpoint.apiKey}`,
          "x-request-id": `llm-runner-canary-${++counter}`,
        },
        body: JSON.stringify({ model, prompt: "ping", max_tokens: 1, temperature: 0, stream: false }),
        signal,
      });
      const text = await res.body.text();
      if (res.statusCode !== 200)
        return { kind: "error", detail: `HTTP ${res.statusCode}: ${text.slice(0, 200)}` };
      const body = JSON.parse(text) as { choices?: unknown };
      return Array.isArray(body.choices) && body.choices.length > 0
        ? { kind: "token" }
        : { kind: "error", detail: `an answer without choices: ${text.slice(0, 200)}` };
    } catch (err) {
      return { kind: "error", detail: err instanceof Error ? err.message : String(err) };
    }
  },
};
