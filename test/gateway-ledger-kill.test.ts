// The ledger survives kill -9: a child process writes rows through the real ledger module and acknowledges each
// one after record() returns (as the gateway does before a response's final byte); it is killed mid-write.
// Every acknowledged row must be there afterwards, and no row may be torn. The same with group commit
// (group-commit.ts): 50 rows per event-loop round in one transaction, each acknowledged once its promise settles.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { expect, it, onTestFinished } from "vitest";
import { SqliteLedger } from "../src/pricing/ledger.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));

/** The row literal for request number `n` (a variable of the writer script). */
const row = (n: string) => `{
    id: "req-" + ${n}, ts: new Date().toISOString(), route: "/llm", model: "m", stream: ${n} % 2 === 0,
    maxTokens: 256, promptTokens: ${n}, completionTokens: ${n} % 257, quote: 256 * 0.08 / 1e6,
    usagePrice: (${n} % 257) * 0.08 / 1e6, currency: "USD", status: "ok", httpStatus: 200, ttftMs: ${n} / 10,
    durationMs: ${n}, error: filler + ${n},
  }`;

const WRITERS = {
  // One commit per row, acknowledged when record() returns.
  "one commit per row": `
import { SqliteLedger } from "./ledger.js";
const ledger = SqliteLedger.open(process.argv[2]);
const filler = "x".repeat(4000);
for (let i = 1; ; i++) {
  ledger.record(${row("i")});
  process.stdout.write(i + "\\n");
}
`,
  // 50 rows per round in one group commit; each acknowledged when its promise settles (the gateway's final byte).
  "group commit": `
import { SqliteLedger } from "./ledger.js";
import { GroupCommit } from "./group-commit.js";
const ledger = SqliteLedger.open(process.argv[2]);
const group = new GroupCommit((rows) => ledger.recordMany(rows));
const filler = "x".repeat(4000);
let i = 0;
const round = () => {
  for (let k = 0; k < 50; k++) {
    i++;
    const n = i;
    group.add(${row("n")}).then(() => process.stdout.write(n + "\\n"));
  }
  setImmediate(round);
};
round();
`,
};

/** ledger.ts (and group-commit.ts) as plain JS under the repo's node_modules, so `better-sqlite3` resolves. */
function buildWriter(kind: keyof typeof WRITERS): string {
  const dir = join(REPO, "node_modules", ".cache", `ledger-kill-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of ["ledger", "group-commit"]) {
    const source = readFileSync(join(REPO, `src/pricing/${name}.ts`), "utf8");
    const out = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
      fileName: `${name}.ts`,
    });
    writeFileSync(join(dir, `${name}.js`), out.outputText);
  }
  writeFileSync(join(dir, "package.json"), '{"type":"module"}');
  writeFileSync(join(dir, "writer.mjs"), WRITERS[kind]);
  return join(dir, "writer.mjs");
}

it.each(Object.keys(WRITERS) as Array<keyof typeof WRITERS>)(
  "%s: keeps every acknowledged row and never a torn one when the writer is killed with SIGKILL",
  async (kind) => {
    const writer = buildWriter(kind);
    const home = mkdtempSync(join(tmpdir(), "ledger-kill-"));
    onTestFinished(() => rmSync(home, { recursive: true, force: true }));
    const path = join(home, "ledger.sqlite");

    const child = spawn(process.execPath, [writer, path], { stdio: ["ignore", "pipe", "pipe"] });
    let acked = 0;
    let stderr = "";
    let buffered = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once("exit", (_code, signal) => resolve(signal)),
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        buffered += d.toString();
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        const last = lines.at(-1);
        if (last) acked = Number(last);
        if (acked >= 2000 && !child.killed) {
          child.kill("SIGKILL");
          resolve();
        }
      });
      child.once("exit", () => reject(new Error(`the writer exited on its own: ${stderr}`)));
    });
    expect(await exited).toBe("SIGKILL");

    const ledger = SqliteLedger.open(path);
    try {
      const rows = ledger.rows();
      // Every row acknowledged before the kill is there; at most the ones in flight after it are extra.
      expect(rows.length).toBeGreaterThanOrEqual(acked);
      const ids = new Set(rows.map((r) => r.id));
      for (let i = 1; i <= acked; i++) expect(ids.has(`req-${i}`)).toBe(true);
      for (const r of rows) {
        const i = Number(r.id.slice(4));
        expect(r).toMatchObject({
          route: "/llm",
          model: "m",
          stream: i % 2 === 0,
          promptTokens: i,
          completionTokens: i % 257,
          status: "ok",
          durationMs: i,
          error: `${"x".repeat(4000)}${i}`,
        });
      }
      const db = (ledger as unknown as { db: { pragma(s: string): unknown } }).db;
      expect(db.pragma("integrity_check")).toEqual([{ integrity_check: "ok" }]);
    } finally {
      ledger.close();
    }
  },
);
