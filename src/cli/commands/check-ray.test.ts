import { describe, expect, it } from "vitest";
import type { Config } from "../../config/types.js";
import { checkRay, rayStatusGpus } from "./check-ray.js";

// The Resources section of `ray status` (Ray's autoscaler status format: "used/total RESOURCE" lines).
const STATUS = `======== Autoscaler status: 2025-01-01 00:00:00 ========
Node status
---------------------------------------------------------------
Active:
 1 node_aaa
 1 node_bbb
Pending:
 (no pending nodes)
Recent failures:
 (no failures)

Resources
---------------------------------------------------------------
Usage:
 0.0/192.0 CPU
 0.0/16.0 GPU
 0B/1.50TiB memory
 0B/186.26GiB object_store_memory

Demands:
 (no resource demands)
`;

const config = (tp: number, pp: number) =>
  ({ tensorParallelSize: tp, pipelineParallelSize: pp, rayAddress: "10.0.0.1:6379" }) as Config;

describe("ray status check", () => {
  it("reads the cluster's total GPUs", () => {
    expect(rayStatusGpus(STATUS)).toBe(16);
    expect(rayStatusGpus("Usage:\n 0.0/8.0 CPU\n")).toBeNull();
  });

  it("ok when the cluster has TP × PP GPUs, fail when it has fewer, ! when ray cannot be read", async () => {
    const ok = await checkRay(config(8, 2), async () => ({ exitCode: 0, stdout: STATUS, stderr: "" }));
    expect(ok.level).toBe("ok");
    const short = await checkRay(config(8, 4), async () => ({ exitCode: 0, stdout: STATUS, stderr: "" }));
    expect([short.level, short.message]).toEqual([
      "fail",
      "the Ray cluster at 10.0.0.1:6379 has 16 GPUs, but TENSOR_PARALLEL_SIZE × PIPELINE_PARALLEL_SIZE = 32",
    ]);
    const gone = await checkRay(config(8, 2), async () => {
      throw new Error("spawn ray ENOENT");
    });
    expect(gone.level).toBe("warn");
    expect(gone.message).toContain("spawn ray ENOENT");
  });
});
