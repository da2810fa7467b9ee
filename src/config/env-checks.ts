// The value checks behind the environment schema (env-schema.ts): each turns one raw string into a typed value
// or an Invalid whose message is the rule that was broken and how to fix it.
import path from "node:path";
import { z } from "zod";
import { parseAllowedHosts } from "./allowed-hosts.js";
import { type CorsOrigins, parseCorsOrigins } from "./cors-origins.js";

export interface SchemaContext {
  home: string; // for "~" in paths
  cwd: string; // for relative paths
}

export class Invalid {
  constructor(readonly message: string) {}
}
export type Check<T> = (raw: string) => T | Invalid;

/** A variable: unset -> fallback; set -> check(raw) or an issue whose message is the rule and the fix. */
export function variable<T, F>(check: Check<T>, fallback: F) {
  return z
    .string()
    .optional()
    .transform((raw, ctx): T | F => {
      if (raw === undefined) return fallback;
      const out = check(raw);
      if (out instanceof Invalid) {
        ctx.addIssue({ code: "custom", message: out.message });
        return z.NEVER;
      }
      return out;
    });
}

const WHOLE = /^\d+$/;
const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;

export function integer(opts: { min: number; max?: number; example: number; unit?: string }): Check<number> {
  const range = opts.max === undefined ? `≥ ${opts.min}` : `from ${opts.min} to ${opts.max}`;
  const unit = opts.unit ? ` ${opts.unit}` : "";
  const fix = `Use a whole number${unit} ${range}, e.g. ${opts.example}, or unset it for the default.`;
  return (raw) => {
    const s = raw.trim();
    if (s === "") return new Invalid(`is empty. ${fix}`);
    if (s.startsWith("-") && WHOLE.test(s.slice(1))) return new Invalid(`must not be negative. ${fix}`);
    if (DECIMAL.test(s) && !WHOLE.test(s))
      return new Invalid(`must be a whole number, not a fraction. ${fix}`);
    if (!WHOLE.test(s))
      return new Invalid(
        `is not a whole number (digits only: no units, suffixes like "k", or signs). ${fix}`,
      );
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < opts.min || (opts.max !== undefined && n > opts.max)) {
      return new Invalid(`must be ${range}. ${fix}`);
    }
    return n;
  };
}

export function decimal(opts: {
  min: number;
  minExclusive?: boolean;
  max?: number;
  example: string;
  what?: string;
}): Check<number> {
  const low = opts.minExclusive ? `> ${opts.min}` : `≥ ${opts.min}`;
  const range = opts.max === undefined ? low : `${low} and ≤ ${opts.max}`;
  const fix = `Use a plain decimal number ${range}${opts.what ?? ""}, e.g. ${opts.example}, or unset it for the default.`;
  return (raw) => {
    const s = raw.trim();
    if (s === "") return new Invalid(`is empty. ${fix}`);
    if (s.endsWith("%")) return new Invalid(`must be a fraction, not a percentage. ${fix}`);
    if (s.startsWith("-") && DECIMAL.test(s.slice(1))) return new Invalid(`must not be negative. ${fix}`);
    if (!DECIMAL.test(s)) return new Invalid(`is not a decimal number. ${fix}`);
    const n = Number(s);
    const tooLow = opts.minExclusive ? n <= opts.min : n < opts.min;
    if (!Number.isFinite(n) || tooLow || (opts.max !== undefined && n > opts.max)) {
      return new Invalid(`must be ${range}. ${fix}`);
    }
    return n;
  };
}

export const boolean: Check<boolean> = (raw) => {
  const s = raw.trim().toLowerCase();
  if (s === "true") return true;
  if (s === "false") return false;
  return new Invalid(`must be "true" or "false" (any case); values like 1/yes/on are not accepted.`);
};

export function oneOf<T extends string>(values: readonly T[]): Check<T> {
  return (raw) => {
    const s = raw.trim().toLowerCase();
    const hit = values.find((v) => v.toLowerCase() === s);
    return hit ?? new Invalid(`must be one of: ${values.join(", ")}.`);
  };
}

/** A single word: non-empty, no whitespace (an image name, a host, a token). */
export function word(what: string): Check<string> {
  return (raw) => {
    if (raw === "") return new Invalid(`is empty. Set it to ${what}, or unset it for the default.`);
    if (/\s/.test(raw)) return new Invalid(`must not contain spaces or line breaks. Set it to ${what}.`);
    return raw;
  };
}

/** A token the gateway compares with "Authorization: Bearer <token>"; HTTP trims headers, so whitespace could never match. */
export const authToken: Check<string> = (raw) => {
  if (raw === "") {
    return new Invalid(
      "is set but empty, which would look like auth is on while it is off. Set a token (e.g. `openssl rand -hex 32`), or unset AUTH_TOKEN to run without auth.",
    );
  }
  if (/\s/.test(raw))
    return new Invalid("must not contain spaces or line breaks (check for a stray newline).");
  return raw;
};

export const corsOrigins: Check<CorsOrigins> = (raw) => {
  const parsed = parseCorsOrigins(raw);
  return typeof parsed === "object" && !Array.isArray(parsed) ? new Invalid(parsed.problem) : parsed;
};

export const allowedHosts: Check<string[]> = (raw) => {
  const parsed = parseAllowedHosts(raw);
  return Array.isArray(parsed) ? parsed : new Invalid(parsed.problem);
};

export const hfToken: Check<string | null> = (raw) => {
  if (raw === "") return null;
  if (/\s/.test(raw))
    return new Invalid("must not contain spaces or line breaks (check for a stray newline).");
  return raw;
};

/** HF_ENDPOINT: the hub's base URL (huggingface_hub's variable), e.g. a mirror; no trailing slash kept. */
export const hubEndpoint: Check<string> = httpBaseUrl(
  'Set it to the hub\'s base URL, e.g. "https://huggingface.co" or a mirror such as "https://hf-mirror.com", or unset it.',
);

export function folder(ctx: SchemaContext, what: string, emptyIsUnset: boolean): Check<string | null> {
  return (raw) => {
    if (raw.trim() === "") {
      return emptyIsUnset ? null : new Invalid(`is empty. Set it to ${what}, or unset it for the default.`);
    }
    return (
      expandPath(raw.trim(), ctx) ?? new Invalid(`"~user" paths are not supported. Use an absolute path.`)
    );
  };
}

/** "~" and "~/x" expand to the home folder; relative paths resolve against cwd. */
export function expandPath(p: string, ctx: SchemaContext): string | null {
  if (p === "~") return ctx.home;
  if (p.startsWith("~/")) return path.join(ctx.home, p.slice(2));
  if (p.startsWith("~")) return null;
  return path.resolve(ctx.cwd, p);
}

// An HF repo id is "name" or "namespace/name" of [A-Za-z0-9._-], at most 96 characters per part.
const HF_REPO_ID = /^[A-Za-z0-9][\w.-]{0,95}(\/[A-Za-z0-9][\w.-]{0,95})?$/;

/** True when MODEL_ID names a folder on disk rather than a Hugging Face repo id (as vLLM decides). */
export function isLocalModelId(id: string, ctx: SchemaContext, isDir: (p: string) => boolean): boolean {
  if (/^(\/|\.\.?\/|~)/.test(id) || id === "." || id === "..") return true;
  if (id.split("/").length > 2) return true;
  return isDir(path.resolve(ctx.cwd, id));
}

export function modelId(ctx: SchemaContext, isDir: (p: string) => boolean): Check<string> {
  return (raw) => {
    const id = raw.trim();
    const fix =
      'Set it to a Hugging Face repo id such as "meta-llama/Meta-Llama-3.1-8B-Instruct", or to a local model folder.';
    if (id === "") return new Invalid(`is empty. ${fix}`);
    if (isLocalModelId(id, ctx, isDir)) {
      return expandPath(id, ctx) ?? new Invalid(`"~user" paths are not supported. Use an absolute path.`);
    }
    if (!HF_REPO_ID.test(id)) {
      return new Invalid(`is neither an existing local folder nor a valid Hugging Face repo id. ${fix}`);
    }
    return id;
  };
}

export const gpuIds: Check<"all" | number[]> = (raw) => {
  const s = raw.trim();
  const fix = 'Use "all" or a comma-separated list of GPU indexes as nvidia-smi numbers them, e.g. "0,1".';
  if (s.toLowerCase() === "all") return "all";
  if (s === "") return new Invalid(`is empty. ${fix}`);
  const parts = s.split(",").map((p) => p.trim());
  if (parts.some((p) => !WHOLE.test(p))) return new Invalid(`is not a list of GPU indexes. ${fix}`);
  const ids = parts.map(Number);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) return new Invalid(`lists GPU ${dup} twice. ${fix}`);
  return ids;
};

/** REPLICAS: a whole number of engines, or "auto" (as many as the GPUs allow). */
export function replicas(max: number): Check<number | "auto"> {
  const count = integer({ min: 1, max, example: 2 });
  return (raw) => {
    if (raw.trim().toLowerCase() === "auto") return "auto";
    const n = count(raw);
    return n instanceof Invalid
      ? new Invalid(`${n.message.replace(/\.$/, "")}; or "auto" for one per GPU group.`)
      : n;
  };
}

/** GATEWAY_WORKERS: a whole number of HTTP worker processes, or "auto" (one per core but one). */
export function gatewayWorkers(max: number): Check<number | "auto"> {
  const count = integer({ min: 1, max, example: 2 });
  return (raw) => {
    if (raw.trim().toLowerCase() === "auto") return "auto";
    const n = count(raw);
    return n instanceof Invalid
      ? new Invalid(`${n.message.replace(/\.$/, "")}; or "auto" for one per core but one.`)
      : n;
  };
}

export const currency: Check<string> = (raw) =>
  /^[A-Za-z]{1,10}$/.test(raw.trim())
    ? raw.trim()
    : new Invalid('must be a currency code of letters only, e.g. "USD" or "wei".');

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error"] as const;
export const SIM_MODES = ["echo", "lorem"] as const;

/** Milliseconds from a seconds value. */
export const seconds = (opts: { min: number; minExclusive?: boolean; max?: number; example: string }) => {
  const check = decimal({ ...opts, what: " seconds" });
  return (raw: string) => {
    const s = check(raw);
    return s instanceof Invalid ? s : Math.round(s * 1000);
  };
};

/** The AI-runner contract version our /llm, /health, /hardware/* and /version implement (its OpenAPI v0.14.1). */
export const AI_RUNNER_CONTRACT_VERSION = "0.14.1";

// semver.org's MAJOR.MINOR.PATCH[-prerelease][+build]. Gateways compare /version with -aiMinRunnerVersion
// (go-livepeer core/capabilities.go, Masterminds/semver) and turn away a runner whose version does not parse.
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$/;

export const semver: Check<string> = (raw) => {
  const s = raw.trim();
  if (SEMVER.test(s)) return s;
  return new Invalid(
    `must be a semantic version MAJOR.MINOR.PATCH (no leading "v"), e.g. ${AI_RUNNER_CONTRACT_VERSION}; gateways compare it with -aiMinRunnerVersion. Unset it for ${AI_RUNNER_CONTRACT_VERSION}.`,
  );
};

/** An absolute http(s) base URL without credentials, query or fragment (a Live Runner orchestrator, or ours). */
export function baseUrl(example: string): Check<string> {
  return httpBaseUrl(`Set it to an absolute http(s) address, e.g. "${example}".`, { noCredentials: true });
}

/** An absolute http(s) URL without query or fragment; the trailing slash is dropped. */
function httpBaseUrl(fix: string, options: { noCredentials?: boolean } = {}): Check<string> {
  return (raw) => {
    const s = raw.trim().replace(/\/+$/, "");
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      return new Invalid(`is not a URL. ${fix}`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:")
      return new Invalid(`must be an http(s) URL. ${fix}`);
    if (options.noCredentials && (url.username || url.password))
      return new Invalid(`must not carry a user or password. ${fix}`);
    if (url.search || url.hash) return new Invalid(`must not have a query or fragment. ${fix}`);
    return s;
  };
}

/**
 * LIVE_RUNNER_SECRET: go-livepeer compares the Authorization header with its -orchSecret byte for byte
 * (ai/runner/live_runner.go validSecret), and HTTP trims header values: whitespace could never match.
 */
export const liveRunnerSecret: Check<string> = (raw) => {
  if (raw === "")
    return new Invalid(
      "is set but empty. Set it to the orchestrator's -orchSecret, or unset LIVE_RUNNER_ORCH_URL.",
    );
  if (/\s/.test(raw) || hasControl(raw))
    return new Invalid(
      "must not contain spaces, line breaks or control characters (check for a stray newline).",
    );
  return raw;
};

export const LIVE_RUNNER_MODES = ["single-shot", "persistent"] as const;
export type LiveRunnerMode = (typeof LIVE_RUNNER_MODES)[number];

/** go-livepeer accepts "single_shot" and normalizes it (ai/runner/live_runner.go normalizeHeartbeat). */
export const liveRunnerMode: Check<LiveRunnerMode> = (raw) => {
  const s = raw.trim().toLowerCase().replace("_", "-");
  if (s === "single-shot" || s === "persistent") return s;
  return new Invalid(
    'must be "single-shot" (one reservation per request, the default) or "persistent" (a client reserves a session and sends several requests).',
  );
};

/** LIVE_RUNNER_PRICE_USD_PER_HOUR: a positive decimal, or "auto" (from the ledger's measured tokens per second). */
export const usdPerHour: Check<number | "auto"> = (raw) => {
  if (raw.trim().toLowerCase() === "auto") return "auto";
  const n = decimal({
    min: 0,
    minExclusive: true,
    example: "2.5",
    what: ' USD per hour per session slot; or "auto" to price from the ledger',
  })(raw);
  return n;
};

/** A short label or name sent to the orchestrator: go-livepeer wants it trimmed and non-empty. */
export function trimmedText(what: string, max: number): Check<string> {
  return (raw) => {
    if (raw.trim() === "") return new Invalid(`is empty. Set it to ${what}, or unset it for the default.`);
    if (raw !== raw.trim()) return new Invalid(`must not start or end with spaces (go-livepeer refuses it).`);
    if (hasControl(raw)) return new Invalid("must not contain control characters.");
    if (raw.length > max) return new Invalid(`is longer than ${max} characters.`);
    return raw;
  };
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c === 127) return true;
  }
  return false;
}
