// scripts/check-layers.mjs, run in CI (scripts/test.sh): imports go downward only, and no files import each other
// in a circle (type-only imports included), inside a folder or across folders.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { REPO } from "./helpers/cli.js";

function checkLayers(files: Record<string, string>): { code: number; out: string } {
  const root = mkdtempSync(join(tmpdir(), "layers-"));
  onTestFinished(() => rmSync(root, { recursive: true, force: true }));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  try {
    const out = execFileSync(process.execPath, [join(REPO, "scripts/check-layers.mjs")], { cwd: root });
    return { code: 0, out: out.toString() };
  } catch (err) {
    const e = err as { status: number; stdout: Buffer };
    return { code: e.status, out: e.stdout.toString() };
  }
}

describe("check-layers", () => {
  it("names a circle of type-only imports between two files of one folder", () => {
    const r = checkLayers({
      "src/supervisor/types.ts": 'import type { Figures } from "./probe.js";\nexport type T = Figures;\n',
      "src/supervisor/probe.ts": 'import type { T } from "./types.js";\nexport type Figures = T[];\n',
    });
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      "import circle: src/supervisor/probe.ts -> src/supervisor/types.ts -> src/supervisor/probe.ts",
    );
  });

  it("names a circle of three files, and passes once it is broken", () => {
    const circle = {
      "src/config/env-schema.ts": 'import { MAX } from "./replica-plan.js";\nexport const A = MAX;\n',
      "src/config/replica-plan.ts":
        'import type { F } from "./model-checks.js";\nexport const MAX = 64;\nexport type P = F;\n',
      "src/config/model-checks.ts": 'import type { A } from "./env-schema.js";\nexport type F = typeof A;\n',
    };
    expect(checkLayers(circle).out).toContain(
      "import circle: src/config/env-schema.ts -> src/config/replica-plan.ts -> src/config/model-checks.ts -> src/config/env-schema.ts",
    );
    const broken = checkLayers({
      ...circle,
      "src/config/env-schema.ts": "export const MAX = 64;\nexport const A = MAX;\n",
    });
    expect(broken).toEqual({ code: 0, out: "layers: every import goes downward, no import circles\n" });
  });
});
