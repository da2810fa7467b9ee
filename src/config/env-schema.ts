// The environment contract: one zod schema, one entry per variable. Each entry turns the raw string (or its
// absence) into a typed value, or records the rule that was broken and how to fix it. Cross-variable rules
// live in cross-field-rules.ts; model- and GPU-aware rules in model-checks.ts and gpu-checks.ts.
import path from "node:path";
import { z } from "zod";
import { FATAL_REASONS } from "../protocol/lifecycle.js";
import { type CorsOrigins, parseCorsOrigins } from "./cors-origins.js";

export interface SchemaContext {
  home: string; // for "~" in paths
  cwd: string; // for relative paths
}

class Invalid {
  constructor(readonly message: string) {}
}
type Check<T> = (raw: string) => T | Invalid;

/** A variable: unset -> fallback; set -> check(raw) or an issue whose message is the rule and the fix. */
function variable<T, F>(check: Check<T>, fallback: F) {
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

function integer(opts: { min: number; max?: number; example: number; unit?: string }): Check<number> {
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

function decimal(opts: {
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

const boolean: Check<boolean> = (raw) => {
  const s = raw.trim().toLowerCase();
  if (s === "true") return true;
  if (s === "false") return false;
  return new Invalid(`must be "true" or "false" (any case); values like 1/yes/on are not accepted.`);
};

function oneOf<T extends string>(values: readonly T[]): Check<T> {
  return (raw) => {
    const s = raw.trim().toLowerCase();
    const hit = values.find((v) => v.toLowerCase() === s);
    return hit ?? new Invalid(`must be one of: ${values.join(", ")}.`);
  };
}

/** A single word: non-empty, no whitespace (an image name, a host, a token). */
function word(what: string): Check<string> {
  return (raw) => {
    if (raw === "") return new Invalid(`is empty. Set it to ${what}, or unset it for the default.`);
    if (/\s/.test(raw)) return new Invalid(`must not contain spaces or line breaks. Set it to ${what}.`);
    return raw;
  };
}

/** A token the gateway compares with "Authorization: Bearer <token>"; HTTP trims headers, so whitespace could never match. */
const authToken: Check<string> = (raw) => {
  if (raw === "") {
    return new Invalid(
      "is set but empty, which would look like auth is on while it is off. Set a token (e.g. `openssl rand -hex 32`), or unset AUTH_TOKEN to run without auth.",
    );
  }
  if (/\s/.test(raw))
    return new Invalid("must not contain spaces or line breaks (check for a stray newline).");
  return raw;
};

const corsOrigins: Check<CorsOrigins> = (raw) => {
  const parsed = parseCorsOrigins(raw);
  return typeof parsed === "object" && !Array.isArray(parsed) ? new Invalid(parsed.problem) : parsed;
};

const hfToken: Check<string | null> = (raw) => {
  if (raw === "") return null;
  if (/\s/.test(raw))
    return new Invalid("must not contain spaces or line breaks (check for a stray newline).");
  return raw;
};

/** HF_ENDPOINT: the hub's base URL (huggingface_hub's variable), e.g. a mirror; no trailing slash kept. */
const hubEndpoint: Check<string> = (raw) => {
  const s = raw.trim().replace(/\/+$/, "");
  const fix =
    'Set it to the hub\'s base URL, e.g. "https://huggingface.co" or a mirror such as "https://hf-mirror.com", or unset it.';
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return new Invalid(`is not a URL. ${fix}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    return new Invalid(`must be an http(s) URL. ${fix}`);
  if (url.search || url.hash) return new Invalid(`must not have a query or fragment. ${fix}`);
  return s;
};

function folder(ctx: SchemaContext, what: string, emptyIsUnset: boolean): Check<string | null> {
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

function modelId(ctx: SchemaContext, isDir: (p: string) => boolean): Check<string> {
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

const gpuIds: Check<"all" | number[]> = (raw) => {
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

const currency: Check<string> = (raw) =>
  /^[A-Za-z]{1,10}$/.test(raw.trim())
    ? raw.trim()
    : new Invalid('must be a currency code of letters only, e.g. "USD" or "wei".');

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error"] as const;
const SIM_MODES = ["echo", "lorem"] as const;

/** Milliseconds from a seconds value. */
const seconds = (opts: { min: number; minExclusive?: boolean; max?: number; example: string }) => {
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

const semver: Check<string> = (raw) => {
  const s = raw.trim();
  if (SEMVER.test(s)) return s;
  return new Invalid(
    `must be a semantic version MAJOR.MINOR.PATCH (no leading "v"), e.g. ${AI_RUNNER_CONTRACT_VERSION}; gateways compare it with -aiMinRunnerVersion. Unset it for ${AI_RUNNER_CONTRACT_VERSION}.`,
  );
};

export const DEFAULT_MODEL_ID = "meta-llama/Meta-Llama-3.1-8B-Instruct";
export const DEFAULT_VLLM_IMAGE = "localhost/llm-runner-vllm:0.1.0";
export const DEFAULT_SIM_IMAGE = "localhost/llm-runner-sim:latest";

/**
 * The schema over the environment. Each key is an environment variable; CLI flags arrive as the same keys.
 * `isDir` is passed in so MODEL_ID can be told apart from a repo id the way vLLM does (an existing folder wins).
 */
export function envSchema(ctx: SchemaContext, isDir: (p: string) => boolean) {
  return z.object({
    MODEL_ID: variable(modelId(ctx, isDir), DEFAULT_MODEL_ID),
    MODEL_DIR: variable(folder(ctx, "a Hugging Face cache folder", true), null),
    HF_TOKEN: variable(hfToken, null),
    HF_ENDPOINT: variable(hubEndpoint, "https://huggingface.co"),

    USE_8BIT: variable(boolean, false),
    PIPELINE_PARALLEL_SIZE: variable(integer({ min: 1, max: 1024, example: 2 }), 1),
    TENSOR_PARALLEL_SIZE: variable(integer({ min: 1, max: 1024, example: 2 }), 1),
    MAX_MODEL_LEN: variable(integer({ min: 1, example: 8192, unit: "of tokens" }), 8192),
    MAX_NUM_BATCHED_TOKENS: variable(integer({ min: 1, example: 8192, unit: "of tokens" }), 8192),
    MAX_NUM_SEQS: variable(integer({ min: 1, example: 128 }), 128),
    GPU_MEMORY_UTILIZATION: variable(
      decimal({
        min: 0,
        minExclusive: true,
        max: 1,
        example: "0.9",
        what: " (a fraction of each GPU's memory)",
      }),
      0.97,
    ),

    HOST: variable(word('an address to listen on, e.g. "0.0.0.0" or "127.0.0.1"'), "0.0.0.0"),
    PORT: variable(integer({ min: 1, max: 65535, example: 8000 }), 8000),
    AUTH_TOKEN: variable(authToken, null),
    QUEUE_SIZE: variable(integer({ min: 0, example: 256 }), 256),
    MAX_BODY_BYTES: variable(integer({ min: 1, example: 1048576, unit: "of bytes" }), 1048576),
    RUNNER_VERSION: variable(semver, AI_RUNNER_CONTRACT_VERSION),
    CORS_ORIGINS: variable(corsOrigins, "*" as CorsOrigins),

    ENGINE: variable(oneOf(["vllm", "sim"] as const), "vllm" as const),
    DRIVER: variable(oneOf(["docker", "process"] as const), "docker" as const),
    ENGINE_IMAGE: variable(word('an image reference, e.g. "localhost/llm-runner-vllm:0.1.0"'), null),
    GPU_IDS: variable(gpuIds, "all" as const),
    ENGINE_PORT: variable(integer({ min: 0, max: 65535, example: 8100 }), 8100),
    PYTHON: variable(word('a Python interpreter, e.g. "python3"'), "python3"),
    ENGINE_STALL_TIMEOUT: variable(seconds({ min: 0, minExclusive: true, example: "300" }), 300_000),
    ENGINE_HANG_TIMEOUT: variable(seconds({ min: 0, minExclusive: true, example: "60" }), 60_000),
    ENGINE_CANARY_INTERVAL: variable(seconds({ min: 0, max: 86_400, example: "60" }), 60_000),
    ENGINE_CANARY_TIMEOUT: variable(
      seconds({ min: 0, minExclusive: true, max: 86_400, example: "30" }),
      30_000,
    ),
    ENGINE_HEALTHY_RESET: variable(
      seconds({ min: 0, minExclusive: true, max: 604_800, example: "600" }),
      600_000,
    ),
    DRAIN_TIMEOUT: variable(seconds({ min: 0, example: "30" }), 30_000),
    ENGINE_STOP_GRACE: variable(seconds({ min: 0, example: "10" }), 10_000),

    PRICE_PER_UNIT: variable(decimal({ min: 0, example: "0.08" }), 0.08),
    PIXELS_PER_UNIT: variable(integer({ min: 1, example: 1000000 }), 1_000_000),
    CURRENCY: variable(currency, "USD"),

    LLM_RUNNER_HOME: variable(
      folder(ctx, "a folder for llm-runner's state", false),
      path.join(ctx.home, ".llm-runner"),
    ),
    LOG_LEVEL: variable(oneOf(LOG_LEVELS), "info" as const),

    SIM_TTFT_MS: variable(decimal({ min: 0, example: "50", what: " milliseconds" }), undefined),
    SIM_ITL_MS: variable(decimal({ min: 0, example: "10", what: " milliseconds" }), undefined),
    SIM_LOAD_SECONDS: variable(decimal({ min: 0, example: "2", what: " seconds" }), undefined),
    SIM_CRASH_AFTER: variable(integer({ min: 0, example: 3, unit: "of requests" }), undefined),
    SIM_HANG_AFTER: variable(integer({ min: 0, example: 3, unit: "of requests" }), undefined),
    SIM_ERROR_RATE: variable(
      decimal({ min: 0, max: 1, example: "0.1", what: " (a probability)" }),
      undefined,
    ),
    SIM_FAIL_START: variable(oneOf(FATAL_REASONS), undefined),
    SIM_MODE: variable(oneOf(SIM_MODES), undefined),
  });
}

export type EnvSchema = ReturnType<typeof envSchema>;
export type EnvValues = z.output<EnvSchema>;
export type EnvName = keyof EnvValues & string;

/** Every variable the schema reads, in documentation order. */
export const ENV_NAMES = Object.keys(envSchema({ home: "/", cwd: "/" }, () => false).shape) as EnvName[];

export const SECRET_VARIABLES: ReadonlySet<string> = new Set(["AUTH_TOKEN", "HF_TOKEN"]);
