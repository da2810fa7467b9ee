// README.md is the operator's reference: every variable the configuration reads, every CLI command with its
// flags, every HTTP route. This test reads those lists from the code and fails when the README lacks one.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONFIG_FLAGS } from "../config/config-flags.js";
import { ENV_NAMES } from "../config/env-schema.js";
import { KNOWN_ROUTES } from "../gateway/create-gateway.js";
import { COMMANDS } from "./commands/index.js";

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** From the heading line `heading` matches to the next heading of the same or a higher level; "" when none. */
function section(heading: RegExp): string {
  const lines = README.split("\n");
  const start = lines.findIndex((l) => heading.test(l));
  if (start < 0) return "";
  const level = /^#+/.exec(lines[start] ?? "")?.[0].length ?? 2;
  const end = lines.findIndex(
    (l, i) => i > start && /^#+ /.test(l) && (/^#+/.exec(l)?.[0].length ?? 9) <= level,
  );
  return lines.slice(start, end < 0 ? undefined : end).join("\n");
}

/** The Configuration table's rows: the variables named in the first cell, and the whole row. */
function configRows(): { names: string[]; cells: string[] }[] {
  return section(/^## Configuration$/)
    .split("\n")
    .filter((l) => l.startsWith("| `"))
    .map((l) => {
      const cells = l
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((c) => c.trim());
      return { names: [...(cells[0] ?? "").matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1] ?? ""), cells };
    });
}

// Read outside the schema (host-env.ts, the hub client and cache, pull's proxies): documented in the same table.
const HOST_VARIABLES = [
  "DOCKER_HOST",
  "LLM_RUNNER_FAKE_GPUS",
  "HF_HUB_CACHE",
  "HF_HOME",
  "HTTPS_PROXY",
  "HTTP_PROXY",
  "NO_PROXY",
];

// Every route the gateway registers, as the README names it. KNOWN_ROUTES (create-gateway.ts) must agree.
const ROUTES = [
  "POST /llm",
  "POST /v1/chat/completions",
  "POST /v1/completions",
  "POST /v1/responses",
  "GET /v1/models",
  "GET /health",
  "GET /ready",
  "GET /hardware/info",
  "GET /hardware/stats",
  "GET /version",
  "GET /metrics",
  "GET /live-runner",
];

describe("README.md covers", () => {
  it("every environment variable, in the Configuration table with a default and a rule", () => {
    const rows = configRows();
    expect(rows.length).toBeGreaterThan(10);
    for (const name of [...ENV_NAMES, ...HOST_VARIABLES]) {
      const row = rows.find((r) => r.names.includes(name));
      expect(row, `${name} has no row in README's Configuration table`).toBeDefined();
      expect(row?.cells[2], `${name}'s default`).toBeTruthy();
      expect(row?.cells[3], `${name}'s rule`).toBeTruthy();
    }
  });

  it("every config flag, in its variable's row", () => {
    const rows = configRows();
    for (const { flag, env } of CONFIG_FLAGS) {
      const row = rows.find((r) => r.names.includes(env));
      expect(row?.cells[1] ?? "", `${env}'s flag`).toContain(`\`${flag}\``);
    }
  });

  it("every CLI command, in a section of its own with the flags its --help lists", async () => {
    const configFlags = new Set(CONFIG_FLAGS.map((f) => f.flag));
    for (const entry of COMMANDS) {
      const text = section(new RegExp(`^### \`llm-runner ${entry.name}[ \`]`));
      expect(text, `README has no "### \`llm-runner ${entry.name} …\`" section`).not.toBe("");
      const help = (await entry.load()).help;
      // The flags of the "Flags:" list (one per line, e.g. "  -f, --follow …") and of the Usage line.
      const listed = help.split("\n").filter((l) => /^ {2}-/.test(l) || l.startsWith("Usage:"));
      const flags = new Set(
        listed.flatMap((l) => [...l.matchAll(/(?<![\w-])--?[a-z][a-z0-9-]*/g)].map((m) => m[0])),
      );
      for (const flag of flags) {
        if (configFlags.has(flag) || flag === "--help") continue;
        expect(text, `${entry.name}'s ${flag}`).toMatch(new RegExp(`(?<![\\w-])${flag}(?![\\w-])`));
      }
    }
  });

  it("every route the gateway registers, in HTTP endpoints", () => {
    expect(new Set(ROUTES.map((r) => r.split(" ")[1]))).toEqual(new Set(KNOWN_ROUTES));
    const endpoints = section(/^## HTTP endpoints$/);
    for (const route of ROUTES) expect(endpoints, route).toContain(`\`${route}`);
  });
});
