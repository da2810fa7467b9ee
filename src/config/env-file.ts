// --env-file / LLM_RUNNER_ENV_FILE: KEY=VALUE lines that `start`, `check`, `flags` and `reload` read on top of the
// environment (the file wins; CLI flags win over both). The format is the common .env subset: blank lines and
// # comments are skipped, an optional "export " prefix, values optionally in single or double quotes (no
// expansion, no escapes, no multi-line values), which docker's --env-file and systemd's EnvironmentFile also read.
import { readFileSync } from "node:fs";
import path from "node:path";
import { ENV_NAMES, SECRET_VARIABLES } from "./env-schema.js";
import { UsageError } from "./usage-error.js";

export const ENV_FILE_VARIABLE = "LLM_RUNNER_ENV_FILE";
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The variables of an env file's text; throws UsageError naming the first bad line and how to fix it. */
export function parseEnvFile(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === "" || line.startsWith("#")) continue;
    const body = line.startsWith("export ") ? line.slice(7).trimStart() : line;
    const eq = body.indexOf("=");
    const name = eq > 0 ? body.slice(0, eq).trim() : "";
    if (!NAME.test(name)) throw new UsageError(`${file}:${i + 1}: ${badLine(body)}`);
    let value = body.slice(eq + 1).trim();
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.length >= 2 && value.endsWith(quote))
      value = value.slice(1, -1);
    else if (quote === '"' || quote === "'")
      throw new UsageError(
        `${file}:${i + 1}: the value of ${name} opens a ${quote} quote it does not close.`,
      );
    out[name] = value;
  }
  return out;
}

/**
 * Why a line is not NAME=value, quoting it only when it starts with one of our variables that is not secret: any
 * other line may hold a secret (AUTH_TOKEN: hf_…, or another program's password in a shared file).
 */
function badLine(body: string): string {
  const lead = /^[A-Za-z_][A-Za-z0-9_]*/.exec(body)?.[0] ?? "";
  const fix = "Write one variable a line, e.g. REPLICAS=2, or start the line with # for a comment.";
  const colon = /^[A-Za-z_][A-Za-z0-9_]*\s*:/.test(body) ? " (it has ':' where '=' belongs)" : "";
  if (KNOWN.has(lead) && !SECRET_VARIABLES.has(lead))
    return `'${body.slice(0, 60)}' is not a NAME=value line${colon}. ${fix}`;
  const which = KNOWN.has(lead) ? `the line for ${lead}` : "this line";
  return `${which} is not a NAME=value line${colon}; its text is not shown, as it may hold a secret. ${fix}`;
}

const KNOWN: ReadonlySet<string> = new Set(ENV_NAMES);

/** Reads the env file (relative to cwd); throws UsageError when it cannot be read. */
export function readEnvFile(file: string, cwd: string): Record<string, string> {
  const full = path.resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(full, "utf8");
  } catch (err) {
    throw new UsageError(
      `the env file ${full} cannot be read (${(err as NodeJS.ErrnoException).code ?? err}). Check the path given with --env-file or ${ENV_FILE_VARIABLE}.`,
    );
  }
  return parseEnvFile(text, full);
}
