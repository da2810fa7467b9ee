import { describe, expect, it } from "vitest";
import { createGatewayMetrics } from "../../metrics/gateway-metrics.js";
import { IpcBatcher } from "./ipc-batcher.js";
import { ipcLogger } from "./ipc-logger.js";
import { forEachMessage, type WorkerToPrimary } from "./messages.js";
import { mergeWorkerSeries } from "./worker-metrics.js";

describe("IpcBatcher", () => {
  it("sends the messages of one turn as one batch, in order, and a lone message as itself", async () => {
    const sent: unknown[] = [];
    const batcher = new IpcBatcher<{ type: string; n: number }>((m) => sent.push(m));
    batcher.post({ type: "a", n: 1 });
    batcher.post({ type: "a", n: 2 });
    batcher.post({ type: "a", n: 3 });
    expect(sent).toHaveLength(0);
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([
      {
        type: "batch",
        messages: [
          { type: "a", n: 1 },
          { type: "a", n: 2 },
          { type: "a", n: 3 },
        ],
      },
    ]);
    batcher.post({ type: "b", n: 4 });
    batcher.flush();
    expect(sent[1]).toEqual({ type: "b", n: 4 });
    const unpacked: unknown[] = [];
    for (const raw of sent) forEachMessage(raw, (m) => unpacked.push(m));
    expect(unpacked.map((m) => (m as { n: number }).n)).toEqual([1, 2, 3, 4]);
  });
});

describe("ipcLogger", () => {
  it("sends records at or above its level, with errors made plain and child bindings kept", () => {
    const posted: WorkerToPrimary[] = [];
    const logger = ipcLogger((m) => posted.push(m), "info", { component: "gateway" });
    logger.debug({ x: 1 }, "dropped");
    logger.child({ route: "/llm" }).error({ err: new TypeError("boom") }, "request failed");
    logger.info("plain text");
    expect(posted).toHaveLength(2);
    const [first, second] = posted as Array<Extract<WorkerToPrimary, { type: "log" }>>;
    expect(first?.level).toBe("error");
    expect(first?.bindings).toEqual({ component: "gateway", route: "/llm" });
    expect(first?.obj.err).toMatchObject({ type: "TypeError", message: "boom" });
    expect(JSON.parse(JSON.stringify(first)).obj.err.message).toBe("boom");
    expect(second).toMatchObject({ level: "info", msg: "plain text", obj: {} });
  });
});

describe("mergeWorkerSeries", () => {
  it("adds up counters and histograms of several workers; build info stays 1", async () => {
    const a = createGatewayMetrics();
    const b = createGatewayMetrics();
    a.response("/llm", 200);
    b.response("/llm", 200);
    b.response("/llm", 500);
    a.timeToFirstToken("/llm", 0.02);
    b.timeToFirstToken("/llm", 0.3);
    const text = await mergeWorkerSeries([await a.json(), await b.json()]);
    expect(text).toContain('llm_runner_http_responses_total{route="/llm",code="200"} 2');
    expect(text).toContain('llm_runner_http_responses_total{route="/llm",code="500"} 1');
    expect(text).toContain('llm_runner_time_to_first_token_seconds_count{route="/llm"} 2');
    expect(text).toContain('llm_runner_time_to_first_token_seconds_bucket{le="0.25",route="/llm"} 1');
    expect(text).toMatch(/llm_runner_build_info\{version="[^"]+"\} 1\n/);
  });
});
