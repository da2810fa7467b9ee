// Checks on a request body, so bad input is a clear 400 naming the problem rather than a crash deeper down or an
// engine that sees another value than the client sent. On the text: UTF-8 (never silently replaced by U+FFFD)
// and nesting depth (a parser's stack). On the parsed value: lone UTF-16 surrogates (UTF-8 cannot encode them;
// vLLM fails with a 500 writing one back), numbers JSON.parse cannot hold exactly (1e400, beyond 2^53), and
// control characters in names (`model`, `role`, `name`), which the engine echoes into logs and errors.
import { errors, GatewayError } from "./gateway-error.js";

export const MAX_JSON_DEPTH = 64;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** The bytes as UTF-8 text (a leading BOM dropped); a 400 naming the problem when they are not valid UTF-8. */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new GatewayError(
      400,
      "invalid_encoding",
      "The request body is not valid UTF-8: send JSON text encoded as UTF-8.",
    );
  }
}

/** A 400 when arrays/objects nest deeper than `max` (strings are skipped, escapes included). */
export function assertJsonDepth(text: string, max = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c)
        i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) {
      inString = true;
    } else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > max) {
        throw new GatewayError(
          400,
          "too_deep",
          `The request body nests arrays/objects more than ${max} levels deep; flatten it.`,
        );
      }
    } else if (ch === 0x5d || ch === 0x7d) {
      depth--;
    }
  }
}

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
/** Index of the first C0 control or DEL (tabs and newlines have no place in a name either), or -1. */
function controlAt(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return i;
  }
  return -1;
}
/** Fields whose string value names something (a model, a role, a participant) rather than carrying text. */
const NAME_FIELDS = new Set(["model", "role", "name"]);

/** A field's path as clients write it: messages[0].content, stop[1]. */
function pathText(path: ReadonlyArray<string | number>): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? p : `.${p}`;
  return out === "" ? "the body" : out;
}

function firstField(path: ReadonlyArray<string | number>): string | null {
  const top = path[0];
  return typeof top === "string" ? top : null;
}

/**
 * A 400 naming the field when the body holds a lone surrogate (in a value or a key), a number that cannot be
 * passed on exactly, or a control character in a name field. Iterative, so a deep body cannot overflow the
 * stack (read-json-body bounds the depth before this runs anyway).
 */
export function assertCleanJson(body: unknown): void {
  const stack: Array<{ value: unknown; path: Array<string | number> }> = [{ value: body, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop() as { value: unknown; path: Array<string | number> };
    if (typeof value === "string") {
      checkString(value, path);
    } else if (typeof value === "number") {
      checkNumber(value, path);
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: [...path, i] });
    } else if (typeof value === "object" && value !== null) {
      for (const [key, child] of Object.entries(value)) {
        if (LONE_SURROGATE.test(key)) {
          throw errors.invalidBody(
            `${pathText(path)} has a key that is not well-formed Unicode (a lone UTF-16 surrogate escape such as \\ud800): send text as valid UTF-8, or escape surrogates only in pairs.`,
            firstField([...path, key]),
          );
        }
        stack.push({ value: child, path: [...path, key] });
      }
    }
  }
}

function checkString(value: string, path: Array<string | number>): void {
  const at = value.search(LONE_SURROGATE);
  if (at >= 0) {
    throw errors.invalidBody(
      `${pathText(path)} is not well-formed Unicode: a lone UTF-16 surrogate (\\u${value.charCodeAt(at).toString(16)}) at character ${at}. Send text as valid UTF-8, or escape surrogates only in pairs.`,
      firstField(path),
    );
  }
  const last = path[path.length - 1];
  const control = typeof last === "string" && NAME_FIELDS.has(last) ? controlAt(value) : -1;
  if (control >= 0) {
    const code = value.charCodeAt(control);
    throw errors.invalidBody(
      `${pathText(path)} must not contain control characters (found U+${code.toString(16).padStart(4, "0").toUpperCase()}): it is a name, not text.`,
      firstField(path),
    );
  }
}

function checkNumber(value: number, path: Array<string | number>): void {
  if (!Number.isFinite(value)) {
    throw errors.invalidBody(
      `${pathText(path)} is a number too large to represent (it overflows a 64-bit float); send a value within ±${Number.MAX_SAFE_INTEGER}.`,
      firstField(path),
    );
  }
  if (Math.abs(value) > Number.MAX_SAFE_INTEGER) {
    throw errors.invalidBody(
      `${pathText(path)} is out of range: numbers beyond ±${Number.MAX_SAFE_INTEGER} (2^53 - 1) cannot be passed on exactly; send a smaller value.`,
      firstField(path),
    );
  }
}
