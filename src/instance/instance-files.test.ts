import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  findRunningInstance,
  type InstanceRecord,
  instancePaths,
  readJson,
  removeInstance,
  writeInstance,
} from "./instance-files.js";

let homes: string[] = [];
afterEach(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
  homes = [];
});

function home(): string {
  const h = path.join(mkdtempSync(path.join(tmpdir(), "inst-")), "home");
  homes.push(path.dirname(h));
  return h;
}

function record(pid: number): InstanceRecord {
  return {
    pid,
    url: "http://127.0.0.1:8000",
    host: "127.0.0.1",
    port: 8000,
    engine: "sim",
    driver: "process",
    modelId: "m",
    instanceId: "i",
    startedAt: "2026-01-01T00:00:00.000Z",
    logFile: null,
    engineLogFile: "/x/engine.log",
    version: "0.0.0",
  };
}

describe("instance files", () => {
  it("a written record of a live process is found; no temp file is left behind", () => {
    const h = home();
    writeInstance(h, record(process.pid));
    expect(findRunningInstance(h)).toMatchObject({ pid: process.pid, port: 8000 });
    expect(readdirSync(h)).toEqual(["instance.json"]);
  });

  it("a record whose process is gone, or an unreadable one, is not a running instance", () => {
    const h = home();
    writeInstance(h, record(2 ** 22 + 12345)); // above Linux's pid_max: never alive
    expect(findRunningInstance(h)).toBeNull();
    writeFileSync(instancePaths(h).instance, "{half");
    expect(findRunningInstance(h)).toBeNull();
    expect(readJson(instancePaths(h).instance)).toBeNull();
  });

  it("removeInstance removes only its own record", () => {
    const h = home();
    writeInstance(h, record(process.pid));
    removeInstance(h, process.pid + 1);
    expect(existsSync(instancePaths(h).instance)).toBe(true);
    removeInstance(h, process.pid);
    expect(existsSync(instancePaths(h).instance)).toBe(false);
  });
});
