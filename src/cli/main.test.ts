import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { captureIO } from "../../test/helpers/capture-io.js";
import { VERSION } from "../version.js";
import { COMMANDS } from "./commands/index.js";
import { main } from "./main.js";

function io(env: NodeJS.ProcessEnv = {}) {
  const c = captureIO(env);
  return { cli: c.io, text: () => ({ stdout: c.out(), stderr: c.err() }) };
}

describe("llm-runner main", () => {
  it("every listed command loads, with the same name and summary as the index says", async () => {
    for (const entry of COMMANDS) {
      const command = await entry.load();
      expect(command.name).toBe(entry.name);
      expect(command.summary).toBe(entry.summary);
      expect(command.help).toContain(`Usage: llm-runner ${entry.name}`);
      expect(command.help).toContain("Examples:");
    }
  });

  it("prints the top help with every command, and usage exit 2 without a command", async () => {
    const t = io();
    expect(await main([], t.cli)).toBe(2);
    for (const c of COMMANDS) expect(t.text().stdout).toContain(c.name);
    const h = io();
    expect(await main(["--help"], h.cli)).toBe(0);
    expect(h.text().stdout).toContain("Exit codes");
  });

  it("prints a command's help", async () => {
    const t = io();
    expect(await main(["stop", "--help"], t.cli)).toBe(0);
    expect(t.text().stdout).toContain("Usage: llm-runner stop");
    const h = io();
    expect(await main(["help", "status"], h.cli)).toBe(0);
    expect(h.text().stdout).toContain("Usage: llm-runner status");
  });

  it("rejects an unknown command and unknown flags with exit 2", async () => {
    const t = io();
    expect(await main(["serve"], t.cli)).toBe(2);
    expect(t.text().stderr).toContain("unknown command 'serve'");
    const f = io();
    expect(await main(["status", "--wat"], f.cli)).toBe(2);
    expect(f.text().stderr).toContain("--wat");
    expect(f.text().stderr).toContain("Usage: llm-runner status");
  });

  it("reports the package version", async () => {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
    const t = io();
    expect(await main(["--version"], t.cli)).toBe(0);
    expect(t.text().stdout.trim()).toBe(VERSION);
  });
});
