import { request } from "undici";
import type { EngineEndpoint } from "./types.js";

export type ProbeResult = "ok" | "unhealthy" | "unreachable";

/** How the supervisor asks an engine whether it is healthy (vLLM: GET /health → 200 ready, 503 dead). */
export interface EngineProbe {
  health(endpoint: EngineEndpoint, timeoutMs: number): Promise<ProbeResult>;
}

export const httpEngineProbe: EngineProbe = {
  async health(endpoint, timeoutMs) {
    try {
      const res = await request(`${endpoint.baseUrl}/health`, {
        method: "GET",
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.body.dump();
      return res.statusCode === 200 ? "ok" : "unhealthy";
    } catch {
      return "unreachable";
    }
  },
};
