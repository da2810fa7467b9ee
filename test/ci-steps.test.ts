// What `npm test` (scripts/test.sh, CI's .ci/run) runs: every test file of the repository, whichever runner it
// needs. The bench's helpers have their own tests (node:test), which vitest does not pick up.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "./helpers/cli.js";

function files(dir: string, suffix: string): string[] {
  return readdirSync(join(REPO, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(suffix) && !f.includes("node_modules"))
    .map((f) => join(dir, f));
}

describe("npm test (scripts/test.sh)", () => {
  it("runs every bench test file through node --test", () => {
    const script = readFileSync(join(REPO, "scripts/test.sh"), "utf8");
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    const commands = [...script.matchAll(/^npm run ([\w:-]+)/gm)].map(
      (m) => pkg.scripts[m[1] as string] ?? "",
    );
    const nodeTest = [...script.split("\n"), ...commands].filter((l) => /^node --test\b/.test(l.trim()));
    const covered = nodeTest.flatMap((l) => l.trim().split(/\s+/).slice(2));
    const benchTests = files("bench", ".test.mjs");
    expect(benchTests.length).toBeGreaterThan(0);
    for (const file of benchTests) {
      expect(
        covered.some((dir) => relative(dir.replace(/\/$/, ""), file).split("/").length === 1),
        `${file} is not run by npm test`,
      ).toBe(true);
    }
  });
});
