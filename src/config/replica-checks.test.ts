import { describe, expect, it } from "vitest";
import { checkReplicaGpus } from "./replica-checks.js";

const slots = [
  { index: 0, gpuIds: [0, 1], enginePort: 8100 },
  { index: 1, gpuIds: [2, 3], enginePort: 8101 },
  { index: 2, gpuIds: [4, 5], enginePort: 8102 },
];

describe("checkReplicaGpus", () => {
  it("one engine: the check once, on GPU_IDS as given", () => {
    const seen: Array<number[] | undefined> = [];
    checkReplicaGpus(null, (ids) => {
      seen.push(ids);
      return { issues: [], warnings: [] };
    });
    expect(seen).toEqual([undefined]);
  });

  it("each group checked; a finding all share is said once, one only some have names them and their GPUs", () => {
    const result = checkReplicaGpus(slots, (ids) => ({
      issues: [{ variable: "MODEL_ID", message: "the weights do not fit." }],
      warnings: ids?.[0] === 2 ? ["GPU 2 has 10 GiB free."] : [],
    }));
    expect(result.issues).toEqual([
      { variable: "MODEL_ID", message: "the weights do not fit. [every replica (3)]" },
    ]);
    expect(result.warnings).toEqual(["GPU 2 has 10 GiB free. [replica 1 (GPU 2,3)]"]);
  });
});
