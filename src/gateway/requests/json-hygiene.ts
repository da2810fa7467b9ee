import { errors } from "../http/gateway-error.js";

// Checks on a parsed request body, before any route looks at it, for values the engine cannot take or that the
// gateway would pass on altered:
// * a lone UTF-16 surrogate (JSON allows "\ud800" escapes; UTF-8 cannot encode it): vLLM's Python server
//   fails with a 500 when it writes such a string back (an error message naming the model, an echoed role),
//   and a tokenizer would see a different text than the client sent;
// * a number JSON.parse cannot hold exactly: 1e400 becomes Infinity, which JSON.stringify sends on as null,
//   and integers beyond 2^53 are rounded, so the engine would see another value than the client sent;
// * NUL and other control characters in names (`model`, a message's `role` or `name`): they are identifiers,
//   never text, and the engine echoes them into logs and error messages.

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
