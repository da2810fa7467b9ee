import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { failIfUnsettled } from "./unsettled-exit.js";

function fakeProcess() {
  const emitter = new EventEmitter();
  return Object.assign(emitter, { exitCode: undefined as number | undefined });
}

describe("failIfUnsettled", () => {
  it("an exit while the command is still pending is a failure that says so", () => {
    const proc = fakeProcess();
    let err = "";
    failIfUnsettled(new Promise(() => {}), proc, { write: (s: string) => (err += s) }, "pull");
    proc.emit("beforeExit");
    expect(proc.exitCode).toBe(1);
    expect(err).toMatch(/^llm-runner pull: stopped before it finished/);
  });

  it("a command that finished (or failed) keeps its own exit code", async () => {
    for (const make of [() => Promise.resolve(0), () => Promise.reject(new Error("x"))]) {
      const work = make();
      const proc = fakeProcess();
      let err = "";
      failIfUnsettled(work, proc, { write: (s: string) => (err += s) }, "pull");
      await work.catch(() => undefined);
      await new Promise((r) => setImmediate(r));
      proc.emit("beforeExit");
      expect(proc.exitCode).toBeUndefined();
      expect(err).toBe("");
    }
  });
});
