import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { captureIO } from "../../../test/helpers/capture-io.js";
import { UsageError } from "../cli-command.js";
import { logsCommand } from "./logs.js";

function home(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "llmr-logs-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, "engine.log"), "replica zero\n");
  writeFileSync(path.join(dir, "engine-2.log"), "replica two\n");
  return dir;
}

async function logs(args: string[]) {
  const c = captureIO({ HOME: "/home/operator" }, "/");
  const code = await logsCommand.run(args, c.io);
  return { code, out: c.out(), err: c.err() };
}

describe("llm-runner logs --engine --replica", () => {
  it("prints replica N's engine log (engine-N.log); replica 0 is engine.log", async () => {
    const dir = home();
    expect((await logs(["--engine", "--replica", "2", "--home", dir])).out).toBe("replica two\n");
    expect((await logs(["--engine", "--home", dir])).out).toBe("replica zero\n");
    const missing = await logs(["--engine", "--replica", "5", "--home", dir]);
    expect(missing.err).toContain("has not started replica 5");
  });

  it("refuses --replica without --engine, and a replica that is not a number", async () => {
    const dir = home();
    await expect(logs(["--replica", "1", "--home", dir])).rejects.toThrow(UsageError);
    await expect(logs(["--engine", "--replica", "one", "--home", dir])).rejects.toThrow(/replica number/);
  });
});

describe("llm-runner logs --engine --model", () => {
  it("prints a model's engine log (engine-m<k>.log, k its place in status.json's models), or says which exist", async () => {
    const dir = home();
    writeFileSync(path.join(dir, "engine-m1.log"), "beta's engine\n");
    writeFileSync(path.join(dir, "engine-m1-1.log"), "beta's replica one\n");
    writeFileSync(
      path.join(dir, "status.json"),
      JSON.stringify({ models: [{ id: "alpha" }, { id: "beta" }] }),
    );
    expect((await logs(["--engine", "--model", "beta", "--home", dir])).out).toBe("beta's engine\n");
    expect((await logs(["--engine", "--model", "beta", "--replica", "1", "--home", dir])).out).toBe(
      "beta's replica one\n",
    );
    expect((await logs(["--engine", "--model", "alpha", "--home", dir])).out).toBe("replica zero\n");
    await expect(logs(["--engine", "--model", "gamma", "--home", dir])).rejects.toThrow(
      "--model gamma: not a model of this runner; its models are alpha, beta",
    );
    await expect(logs(["--model", "beta", "--home", dir])).rejects.toThrow(/use it with --engine/);
  });
});
