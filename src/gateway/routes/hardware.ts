import type { Hono } from "hono";
import type { GpuInfo } from "../../gpu/types.js";
import type { RouteDeps } from "../gateway-deps.js";
import { GatewayError } from "../http/gateway-error.js";
import { gpuComputeInfo, gpuUtilizationInfo } from "./hardware-info.js";

/** GET /hardware/info and /hardware/stats: an empty map (not an error) on a machine without GPUs. */
export function registerHardware(app: Hono, deps: RouteDeps): void {
  const list = async (): Promise<GpuInfo[]> => {
    try {
      return await deps.gpus.list();
    } catch (err) {
      throw new GatewayError(
        500,
        "gpu_probe_failed",
        `Could not read the GPUs: ${err instanceof Error ? err.message : String(err)}`,
        {
          cause: err,
        },
      );
    }
  };
  app.get("/hardware/info", async (c) =>
    c.json({ pipeline: "llm", model_id: deps.config.modelId, gpu_info: gpuComputeInfo(await list()) }),
  );
  app.get("/hardware/stats", async (c) =>
    c.json({ pipeline: "llm", model_id: deps.config.modelId, gpu_stats: gpuUtilizationInfo(await list()) }),
  );
}
