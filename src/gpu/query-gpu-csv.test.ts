import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { GpuParseError, parseQueryGpuCsv, QUERY_GPU_FIELDS } from "./query-gpu-csv.js";
import { H100 } from "./testing/gpu-fixtures.js";
import type { GpuInfo } from "./types.js";

const FIXTURES = path.resolve(import.meta.dirname, "../../test/fixtures/gpu");
// The column list of the real capture (see test/fixtures/gpu/README.md): no utilization.memory.
const CAPTURE_FIELDS = [
  "index",
  "uuid",
  "name",
  "memory.total",
  "memory.used",
  "memory.free",
  "utilization.gpu",
  "temperature.gpu",
  "power.draw",
  "driver_version",
  "compute_cap",
];

const h100: GpuInfo = H100;

describe("parseQueryGpuCsv", () => {
  it("reads the real H100 capture with its own field list", () => {
    const text = readFileSync(path.join(FIXTURES, "query-gpu-capture.csv"), "utf8");
    expect(parseQueryGpuCsv(text, CAPTURE_FIELDS)).toEqual([{ ...h100, utilizationMemory: null }]);
  });

  it("reads the same GPU in our column order", () => {
    const text = readFileSync(path.join(FIXTURES, "h100-query-gpu.csv"), "utf8");
    expect(parseQueryGpuCsv(text)).toEqual([h100]);
  });

  it("reads a real H200 capture taken with our exact column list", () => {
    const text = readFileSync(path.join(FIXTURES, "h200-query-gpu.csv"), "utf8");
    expect(parseQueryGpuCsv(text)).toEqual([
      {
        index: 0,
        uuid: "GPU-69dd6533-7bf9-006d-a86d-66736135b806",
        name: "NVIDIA H200",
        memoryTotalMiB: 143771,
        memoryUsedMiB: 0,
        memoryFreeMiB: 143156,
        utilizationGpu: 0,
        utilizationMemory: 0,
        temperatureC: 36,
        powerW: 119.74,
        driverVersion: "580.159.04",
        computeCap: { major: 9, minor: 0 },
      },
    ]);
  });

  it("turns [N/A] and [Not Supported] into null", () => {
    const line = "1, GPU-x, NVIDIA A10G, 23028, 10, 22500, [N/A], [Not Supported], 30, [N/A], 550.54.15, 8.6";
    expect(parseQueryGpuCsv(`${line}\n`)).toEqual([
      {
        index: 1,
        uuid: "GPU-x",
        name: "NVIDIA A10G",
        memoryTotalMiB: 23028,
        memoryUsedMiB: 10,
        memoryFreeMiB: 22500,
        utilizationGpu: null,
        utilizationMemory: null,
        temperatureC: 30,
        powerW: null,
        driverVersion: "550.54.15",
        computeCap: { major: 8, minor: 6 },
      },
    ]);
  });

  it("reads several GPUs and ignores blank lines and CRLF", () => {
    const one = "0, GPU-a, G, 100, 0, 100, 0, 0, 30, 50, 1, 9.0";
    const two = "1, GPU-b, G, 200, 0, 200, 0, 0, 30, 50, 1, 9.0";
    expect(parseQueryGpuCsv(`${one}\r\n\r\n${two}\r\n`).map((g) => [g.index, g.memoryTotalMiB])).toEqual([
      [0, 100],
      [1, 200],
    ]);
  });

  it("returns [] for no output", () => {
    expect(parseQueryGpuCsv("")).toEqual([]);
  });

  it("rejects a line with the wrong number of columns, naming it", () => {
    const capture = readFileSync(path.join(FIXTURES, "query-gpu-capture.csv"), "utf8");
    expect(() => parseQueryGpuCsv(capture, QUERY_GPU_FIELDS)).toThrow(/line 1 has 11 columns, expected 12/);
  });

  it("rejects a missing memory figure and a field list without one", () => {
    const line = "0, GPU-a, G, [N/A], 0, 100, 0, 0, 30, 50, 1, 9.0";
    expect(() => parseQueryGpuCsv(line)).toThrow(/did not report memory.total/);
    expect(() => parseQueryGpuCsv("", ["index", "uuid"])).toThrow(GpuParseError);
  });
});
