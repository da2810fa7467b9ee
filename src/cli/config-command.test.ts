import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { captureIO } from "../../test/helpers/capture-io.js";
import { UsageError } from "../config/usage-error.js";
import { openConfigCommand } from "./config-command.js";

function io(env: Record<string, string> = {}) {
  const cwd = mkdtempSync(path.join(tmpdir(), "cfg-cmd-"));
  onTestFinished(() => rmSync(cwd, { recursive: true, force: true }));
  return captureIO({ HOME: cwd, PATH: "/nonexistent", ENGINE: "sim", DRIVER: "process", ...env }, cwd).io;
}

describe("openConfigCommand", () => {
  it("reads the command's own flag and the config flags, relative paths against the command's cwd", async () => {
    const t = io();
    const opened = await openConfigCommand(["--detach", "--home", "state", "--port", "9100"], t, "detach");
    expect(opened.flag).toBe(true);
    expect(opened.overrides).toMatchObject({ LLM_RUNNER_HOME: "state", PORT: "9100" });
    expect(opened.loaded.ok).toBe(true);
    if (opened.loaded.ok) {
      expect(opened.loaded.config.home).toBe(path.join(t.cwd, "state"));
      expect(opened.loaded.config.port).toBe(9100);
    }
    expect((await openConfigCommand([], t, "json")).flag).toBe(false);
  });

  it("refuses another command's flag and a stray argument, saying which", async () => {
    await expect(openConfigCommand(["--json"], io(), "detach")).rejects.toThrow(
      new UsageError("unknown flag '--json'"),
    );
    await expect(openConfigCommand(["now"], io(), "json")).rejects.toThrow(/unexpected argument 'now'/);
  });

  it("a bad value comes back as issues, not a throw", async () => {
    const opened = await openConfigCommand(["--port", "0"], io(), "json");
    expect(opened.loaded.ok).toBe(false);
  });
});
